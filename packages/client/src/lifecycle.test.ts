import { describe, expect, test } from 'vitest';
import { Lifecycle, type ConnectionState } from './lifecycle.ts';

function lifecycle(offline = () => false) {
  const shown: ConnectionState[] = [];
  return { life: new Lifecycle(offline, (state) => shown.push(state)), shown };
}

describe('Lifecycle', () => {
  test('moves connecting → live → reconnecting → live → stopped, and shows each once', () => {
    const { life, shown } = lifecycle();
    expect(life.moveTo('live')).toBe(true);
    expect(life.moveTo('live')).toBe(true); // a new subscription started (after a resync)
    expect(life.moveTo('reconnecting')).toBe(true);
    expect(life.moveTo('live')).toBe(true);
    expect(life.moveTo('stopped')).toBe(true);
    expect(shown).toEqual(['live', 'reconnecting', 'live', 'offline']);
  });

  test('refuses the moves the client must not make: reconnecting before ever live, anything once stopped', () => {
    const { life, shown } = lifecycle();
    expect(life.moveTo('reconnecting')).toBe(false);
    expect(life.phase).toBe('connecting');
    life.moveTo('stopped');
    for (const next of ['connecting', 'live', 'reconnecting', 'stopped'] as const) expect(life.moveTo(next)).toBe(false);
    expect(life.phase).toBe('stopped');
    expect(shown).toEqual(['offline']);
  });

  test('a run stops being current when abandoned, and every run once stopped', () => {
    const { life } = lifecycle();
    const first = life.run;
    expect(life.isCurrent(first)).toBe(true);
    const second = life.abandon();
    expect([life.isCurrent(first), life.isCurrent(second)]).toEqual([false, true]);
    life.moveTo('stopped');
    expect(life.isCurrent(second)).toBe(false);
  });

  test('shows offline while the browser says so, whatever the phase, and the phase again after', () => {
    let offline = false;
    const { life, shown } = lifecycle(() => offline);
    life.moveTo('live');
    offline = true;
    life.networkChanged();
    expect(life.state).toBe('offline');
    offline = false;
    life.networkChanged();
    expect(shown).toEqual(['live', 'offline', 'live']);
  });
});
