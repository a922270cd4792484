import { afterEach, describe, expect, test, vi } from 'vitest';
import { isDatabaseUnavailable } from './db/errors.ts';
import { withTimeLimit } from './time-limit.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('withTimeLimit (queries on recovery paths)', () => {
  test('a query that hangs becomes "database unavailable" once the limit passes, so the reader retries', async () => {
    vi.useFakeTimers();
    const hung = withTimeLimit(new Promise<never>(() => {}), 10_000, 'reading the log');
    const settled = vi.fn();
    hung.then(settled, settled);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(settled).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    const err = await hung.catch((e: unknown) => e);
    expect(isDatabaseUnavailable(err)).toBe(true);
    expect(String((err as Error).cause)).toContain('reading the log took longer than 10000 ms');
  });

  test('an answer in time is the answer, and a failure in time is that failure', async () => {
    await expect(withTimeLimit(Promise.resolve([1, 2]), 1_000, 'q')).resolves.toEqual([1, 2]);
    const failure = new Error('syntax error');
    await expect(withTimeLimit(Promise.reject(failure), 1_000, 'q')).rejects.toBe(failure);
  });
});
