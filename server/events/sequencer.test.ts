import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { createLogger } from '../logger.ts';
import { Sequencer } from './sequencer.ts';

// When the sequencer looks is what the delay of a raw SQL write's event is made of, and what
// an idle node costs: the clock is faked, so the schedule is checked exactly.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

const INTERVAL_MS = 5;
const BUSY_INTERVAL_MS = 1;
const BUSY_FOR_MS = 100;

/** A sequencer whose batches find work when `found` says so; records when each looked. */
function sequencerFinding(found: (look: number) => boolean) {
  const looks: number[] = [];
  const sequencer = new Sequencer({
    sequence: async () => {
      looks.push(performance.now());
      return found(looks.length) ? String(looks.length) : null;
    },
    intervalMs: INTERVAL_MS,
    busyIntervalMs: BUSY_INTERVAL_MS,
    busyForMs: BUSY_FOR_MS,
    log: createLogger('silent'),
  });
  return { sequencer, looks };
}

const gaps = (times: number[]) => times.slice(1).map((t, i) => Math.round(t - times[i]!));

test('idle, it looks every interval; after a batch that found work, every busy interval until busyFor has passed', async () => {
  const { sequencer, looks } = sequencerFinding((look) => look === 3);
  sequencer.start();
  await vi.advanceTimersByTimeAsync(11);
  // Looks 1 and 2 at 0 and 5 ms found nothing; look 3 at 10 ms found work, and look 4
  // waits the busy interval (commits arrive in groups: at once it would mostly find nothing).
  expect(looks).toEqual([0, 5, 10, 11]);
  await vi.advanceTimersByTimeAsync(BUSY_FOR_MS + 20);
  await sequencer.stop();

  // Then at the busy interval...
  const after = looks.slice(3);
  const busy = after.filter((t) => t - 10 < BUSY_FOR_MS);
  expect(new Set(gaps(busy.slice(1)))).toEqual(new Set([BUSY_INTERVAL_MS]));
  // ...and once busyFor has passed without work, at the idle interval again.
  const idle = after.filter((t) => t - 10 >= BUSY_FOR_MS);
  expect(idle.length).toBeGreaterThan(1);
  expect(new Set(gaps(idle))).toEqual(new Set([INTERVAL_MS]));
});

test('a kick starts a batch at once and resolves when that batch has ended (read your writes)', async () => {
  let finishBatch: (() => void) | undefined;
  const looks: number[] = [];
  const sequencer = new Sequencer({
    sequence: () => {
      looks.push(performance.now());
      return new Promise<string | null>((resolve) => (finishBatch = () => resolve('1')));
    },
    intervalMs: INTERVAL_MS,
    busyIntervalMs: BUSY_INTERVAL_MS,
    busyForMs: BUSY_FOR_MS,
    log: createLogger('silent'),
  });
  let answered = false;
  void sequencer.kick().then(() => (answered = true));
  await vi.advanceTimersByTimeAsync(0);
  expect(looks).toEqual([0]);
  // The batch has not ended: the write's answer waits.
  await vi.advanceTimersByTimeAsync(3);
  expect(answered).toBe(false);
  finishBatch!();
  await vi.advanceTimersByTimeAsync(0);
  expect(answered).toBe(true);

  // A kick during a running batch waits for the next one, which may see its commit.
  const second = looks.length;
  let answeredAgain = false;
  void sequencer.kick().then(() => (answeredAgain = true));
  finishBatch!();
  await vi.advanceTimersByTimeAsync(0);
  expect(looks.length).toBeGreaterThan(second);
  expect(answeredAgain).toBe(false);
  finishBatch!();
  await vi.advanceTimersByTimeAsync(0);
  expect(answeredAgain).toBe(true);
  const stopped = sequencer.stop();
  finishBatch!();
  await stopped;
});

test("a node writing on its own is sequenced by its kicks; their work does not quicken the looks between them", async () => {
  // Work exists only when this node's write kicked: the other looks find nothing.
  let kicked = 0;
  const looks: Array<{ at: number; found: boolean }> = [];
  const sequencer = new Sequencer({
    sequence: async () => {
      const found = kicked > 0;
      kicked = 0;
      looks.push({ at: performance.now(), found });
      return found ? '1' : null;
    },
    intervalMs: INTERVAL_MS,
    busyIntervalMs: BUSY_INTERVAL_MS,
    busyForMs: BUSY_FOR_MS,
    log: createLogger('silent'),
  });
  const kicks = setInterval(() => {
    kicked++;
    void sequencer.kick();
  }, 3);
  await vi.advanceTimersByTimeAsync(60);
  clearInterval(kicks);
  // The last kick's batch.
  await vi.advanceTimersByTimeAsync(1);
  await sequencer.stop();
  // 20 kicks in 60 ms, each positioned by a batch of its own...
  expect(looks.filter((l) => l.found).length).toBe(20);
  // ...and the looks that found nothing came no more often than the idle interval allows
  // (had the kicked batches' work quickened them, about two between each pair of kicks).
  const empty = looks.filter((l) => !l.found);
  expect(empty.length).toBeLessThanOrEqual(60 / INTERVAL_MS + 1);
  // Work nobody kicked for does quicken them: the first test.
});

test('a failed batch is retried after a backoff, not in a tight loop', async () => {
  let calls = 0;
  const sequencer = new Sequencer({
    sequence: async () => {
      calls++;
      throw new Error('boom');
    },
    intervalMs: INTERVAL_MS,
    busyIntervalMs: BUSY_INTERVAL_MS,
    busyForMs: BUSY_FOR_MS,
    log: createLogger('silent'),
  });
  sequencer.start();
  await vi.advanceTimersByTimeAsync(50);
  await sequencer.stop();
  // One look at 0 ms; every retry waits at least the idle interval.
  expect(calls).toBeGreaterThanOrEqual(1);
  expect(calls).toBeLessThanOrEqual(1 + 50 / INTERVAL_MS);
});

test('while batches find work it vacuums the queue at most every vacuumEveryMs, one vacuum at a time, and never while idle', async () => {
  const vacuums: number[] = [];
  let finishVacuum: (() => void) | undefined;
  let finding = true;
  const sequencer = new Sequencer({
    sequence: async () => (finding ? '1' : null),
    vacuum: () => {
      vacuums.push(performance.now());
      return new Promise<void>((resolve) => (finishVacuum = resolve));
    },
    vacuumEveryMs: 10,
    intervalMs: INTERVAL_MS,
    busyIntervalMs: BUSY_INTERVAL_MS,
    busyForMs: BUSY_FOR_MS,
    log: createLogger('silent'),
  });
  sequencer.start();
  // The first vacuum is still running at 25 ms: none other begins meanwhile.
  await vi.advanceTimersByTimeAsync(25);
  expect(vacuums).toEqual([0]);
  finishVacuum!();
  await vi.advanceTimersByTimeAsync(25);
  expect(vacuums.length).toBe(2);
  finishVacuum!();
  expect(vacuums[1]! - vacuums[0]!).toBeGreaterThanOrEqual(10);
  // Batches that find nothing leave the queue as it was: no vacuum.
  finding = false;
  await vi.advanceTimersByTimeAsync(200);
  expect(vacuums.length).toBeLessThanOrEqual(3);
  const count = vacuums.length;
  await vi.advanceTimersByTimeAsync(200);
  expect(vacuums.length).toBe(count);
  finishVacuum!();
  await sequencer.stop();
});
