import { expect, inject, test } from 'vitest';
import { runChaos } from '../scripts/chaos/run.ts';

// The short run of `npm run chaos`: 3 nodes, every fault kind, every writer kind. A failure
// prints every summary line with the seed; `npm run chaos -- --seed N` repeats the run.
test('chaos: no subscriber misses or repeats a change, and the table equals the folded log', async () => {
  const seed = Math.floor(Math.random() * 2 ** 31);
  const result = await runChaos({
    seconds: 15,
    nodes: 3,
    seed,
    faultEveryMs: 500,
    eventOrdering: inject('eventOrdering'),
    quietDeadlineMs: 60_000,
    print: () => {},
  });
  expect(result.ok, result.lines.join('\n')).toBe(true);
}, 180_000);

// `npm run chaos -- --via-haproxy`, short, with the faults a load balancer changes: nodes
// stopped gracefully (drained out of HAProxy) or killed, and subscribers cut off, all
// reconnecting through HAProxy. (Database and listener faults are the run above's.)
// Not again in the `sequenced` project: its faults are the load balancer's, not the log's.
test.skipIf(inject('eventOrdering') === 'sequenced')('chaos via HAProxy: the same guarantees when clients only know the load balancer', async () => {
  const seed = Math.floor(Math.random() * 2 ** 31);
  const result = await runChaos({
    seconds: 15,
    nodes: 3,
    seed,
    faultEveryMs: 500,
    faults: ['node-stop', 'node-kill', 'subscriber-drop', 'subscriber-resume'],
    viaHaproxy: true,
    quietDeadlineMs: 60_000,
    print: () => {},
  });
  expect(result.ok, result.lines.join('\n')).toBe(true);
}, 180_000);
