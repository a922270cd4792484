import { describe, expect, test, vi } from 'vitest';
import { CatchUp } from './catch-up.ts';

describe('CatchUp', () => {
  test('counts the changes after the drop up to the head read after reconnecting', () => {
    const catchUp = new CatchUp('10', false, () => {});
    expect(catchUp.received('11')).toBe(false);
    expect(catchUp.headRead('14', '11')).toBe(false);
    expect(catchUp.received('12')).toBe(false);
    expect(catchUp.received('14')).toBe(true);
    expect(catchUp.count).toBe(3);
  });

  test('nothing missed: caught up at once', () => {
    expect(new CatchUp('10', false, () => {}).headRead('10', '10')).toBe(true);
  });

  test('a filtered stream is caught up once its replay is quiet', () => {
    vi.useFakeTimers();
    try {
      const quiet = vi.fn();
      const catchUp = new CatchUp('10', true, quiet);
      expect(catchUp.headRead('20', '10')).toBe(false);
      catchUp.received('13');
      vi.advanceTimersByTime(299);
      expect(quiet).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(quiet).toHaveBeenCalledOnce();
      expect(catchUp.count).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });
});
