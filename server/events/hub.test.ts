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

describe('EventHub recent events (the ring)', () => {
  test('holds the last `recentCapacity` published events: serves after any position among them, and nothing older', () => {
    const hub = new EventHub('0', 10, undefined, 100);
    for (let i = 1; i <= 10_000; i++) hub.publish([event(i)]);
    expect(hub.recentAfter('9899', 1000, {})).toBeUndefined(); // 9,900 is gone: the log must serve it
    const page = hub.recentAfter('9900', 1000, {})!;
    expect(page.map((e) => Number(e.id))).toEqual(Array.from({ length: 100 }, (_, i) => 9901 + i));
    expect(hub.recentAfter('9950', 10, {})!.map((e) => e.id)).toEqual(Array.from({ length: 10 }, (_, i) => String(9951 + i)));
    expect(hub.recentAfter('10000', 10, {})).toEqual([]); // at the live end: nothing yet
  });

  test('positions may skip numbers; a reader between two of them gets the next; a skip of the log empties the ring and sends readers at or before it to the log', () => {
    const hub = new EventHub('5', 10, undefined, 100);
    hub.publish([event(7), event(9), event(12)]);
    expect(hub.recentAfter('5', 10, {})!.map((e) => e.id)).toEqual(['7', '9', '12']);
    expect(hub.recentAfter('8', 10, {})!.map((e) => e.id)).toEqual(['9', '12']);
    expect(hub.recentAfter('4', 10, {})).toBeUndefined();
    hub.skipTo('50');
    expect(hub.recentAfter('12', 10, {})).toBeUndefined();
    // A reader at the skip point itself goes to the log too: its event there may differ.
    expect(hub.recentAfter('50', 10, {})).toBeUndefined();
    hub.publish([event(51), event(52)]);
    expect(hub.recentAfter('51', 10, {})!.map((e) => e.id)).toEqual(['52']);
  });
});
