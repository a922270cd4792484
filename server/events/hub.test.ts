import { describe, expect, test } from 'vitest';
import type { OrderEvent } from '../../shared/orders.ts';
import { EventHub } from './hub.ts';

function event(id: number): OrderEvent {
  const order = { id: '1', customerName: 'c', productName: 'p', status: 'pending' as const, version: 1, createdAt: '', updatedAt: '' };
  return { id: String(id), type: 'updated', orderId: '1', order, actor: 'test', at: '' };
}

describe('EventHub.skipTo (the log cannot go on from the hub position)', () => {
  test('moves the live end and sends every subscriber, queued, attached or waiting, back to the log', async () => {
    const hub = new EventHub('10');
    const queued = hub.subscribe();
    hub.publish([event(11)]);
    const attached = hub.subscribe();
    const delivered: string[] = [];
    attached.attach((events) => {
      delivered.push(...events.map((e) => e.id));
      return true;
    });
    const waiting = hub.subscribe();
    const abort = new AbortController();
    const woken = waiting.wait(abort.signal);

    hub.skipTo('50');

    expect(hub.position).toBe('50');
    await woken; // resolves without an event: the waiter looks again and finds itself overflowed
    for (const s of [queued, attached, waiting]) expect(s.overflowed).toBe(true);
    expect(queued.take()).toEqual([]);
    // Nothing published from now on reaches a subscriber before it has re-read the log.
    hub.publish([event(51)]);
    expect(delivered).toEqual([]);
    expect(attached.take()).toEqual([]);
  });
});
