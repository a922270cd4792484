import { expect, test } from 'vitest';
import { untilWoken } from './until-woken.ts';

test('wakes on the first of wake and abort, and undoes what was armed and the abort listener', async () => {
  const armed: string[] = [];
  const abort = new AbortController();
  let wake!: () => void;
  const waiting = untilWoken(abort.signal, (w) => {
    wake = w;
    armed.push('armed');
    return () => armed.push('disarmed');
  });
  let settled = false;
  void waiting.then(() => (settled = true));
  await Promise.resolve();
  expect(settled).toBe(false);
  wake();
  await waiting;
  expect(armed).toEqual(['armed', 'disarmed']);
  // The abort listener is gone: aborting now does not disarm a second time.
  abort.abort();
  wake();
  expect(armed).toEqual(['armed', 'disarmed']);

  const aborted = new AbortController();
  const byAbort = untilWoken(aborted.signal, () => () => armed.push('disarmed by abort'));
  aborted.abort();
  await byAbort;
  expect(armed.at(-1)).toBe('disarmed by abort');
});

test('an aborted signal resolves at once without arming; a wake during arm still disarms', async () => {
  let armedCount = 0;
  await untilWoken(AbortSignal.abort(), () => {
    armedCount++;
    return () => {};
  });
  expect(armedCount).toBe(0);

  let disarmed = false;
  await untilWoken(new AbortController().signal, (wake) => {
    wake();
    return () => (disarmed = true);
  });
  expect(disarmed).toBe(true);
});
