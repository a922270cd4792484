import { isTrackedEnvelope } from '@trpc/server';
import { describe, expect, test } from 'vitest';
import type { EventFilter, OrderEvent } from '../../shared/orders.ts';
import { matchesFilter } from '../../shared/orders.ts';
import { Metrics, type Transport } from '../metrics.ts';
import type { EventSink } from './event-sink.ts';
import { EventStream, type StreamLifecycle } from './event-stream.ts';
import { EventHub } from './hub.ts';

function event(id: number): OrderEvent {
  const order = { id: '1', customerName: 'c', productName: 'p', status: 'pending' as const, version: 1, createdAt: '', updatedAt: '' };
  return { id: String(id), type: 'updated', orderId: '1', order, actor: 'test', at: '' };
}

/** The log as an array, and a stream over it after position `after`. */
function setUp(after: string, lifecycle: StreamLifecycle = { opened() {}, closed() {} }) {
  const committed = Array.from({ length: 5 }, (_, i) => event(i + 1));
  const readLog = async (from: string, limit: number, filter: EventFilter) =>
    committed.filter((e) => Number(e.id) > Number(from) && matchesFilter(e, filter)).slice(0, limit);
  const hub = new EventHub('5');
  const metrics = new Metrics();
  const abort = new AbortController();
  const stream = new EventStream({ hub, readLog, pageSize: 2, options: { after, filter: {}, signal: abort.signal }, lifecycle, metrics });
  return { stream, hub, metrics, abort };
}

/** A sink that takes everything and records it. */
function recordingSink(): EventSink & { ids: string[] } {
  const ids: string[] = [];
  return { ids, hasRoom: () => true, send: (e) => void ids.push(e.id), waitForRoom: async () => {} };
}

async function delivered(metrics: Metrics, transport: Transport): Promise<number> {
  const line = (await metrics.text()).split('\n').find((l) => l.startsWith(`live_orders_events_delivered_total{transport="${transport}"}`));
  return Number(line?.split(' ')[1] ?? 0);
}

/** Waits for a condition the stream reaches through promises, with a deadline. */
const until = (condition: () => boolean) => expect.poll(condition, { timeout: 2_000, interval: 1 }).toBe(true);

describe('EventStream', () => {
  test('iterated, it yields each event tracked by its position, counted under sse', async () => {
    const { stream, hub, metrics, abort } = setUp('2');
    const iterator = stream[Symbol.asyncIterator]();
    const values = [];
    for (let i = 0; i < 3; i++) values.push((await iterator.next()).value);
    expect(values.every(isTrackedEnvelope)).toBe(true);
    expect(values.map((v) => [v[0], v[1].id])).toEqual([['3', '3'], ['4', '4'], ['5', '5']]);
    expect(await delivered(metrics, 'sse')).toBe(3);
    expect(await delivered(metrics, 'websocket')).toBe(0);
    abort.abort();
    await iterator.return?.(undefined);
    expect(hub.subscriberCount).toBe(0);
  });

  test('pushed, it sends the same events into the sink, counted under the transport that pushed', async () => {
    const { stream, hub, metrics, abort } = setUp('2');
    const sink = recordingSink();
    const pushing = stream.pushTo(sink, 'websocket');
    await until(() => sink.ids.length === 3 && hub.subscriberCount === 1);
    hub.publish([event(6)]);
    await until(() => sink.ids.length === 4);
    expect(sink.ids).toEqual(['3', '4', '5', '6']);
    expect(await delivered(metrics, 'websocket')).toBe(4);
    expect(await delivered(metrics, 'sse')).toBe(0);
    abort.abort();
    await pushing;
    expect(hub.subscriberCount).toBe(0);
  });

  test('opened and closed bracket the drain, under its transport; a refusal in opened sends nothing', async () => {
    const calls: string[] = [];
    const { stream, abort } = setUp('0', { opened: (t) => void calls.push(`opened ${t}`), closed: (t) => void calls.push(`closed ${t}`) });
    const sink = recordingSink();
    const pushing = stream.pushTo(sink, 'websocket');
    await until(() => sink.ids.length === 5);
    expect(calls).toEqual(['opened websocket']);
    abort.abort();
    await pushing;
    expect(calls).toEqual(['opened websocket', 'closed websocket']);

    const refused = setUp('0', {
      opened() {
        throw new Error('too many subscriptions');
      },
      closed: () => void calls.push('closed after a refusal'),
    });
    const refusedSink = recordingSink();
    await expect(refused.stream.pushTo(refusedSink, 'websocket')).rejects.toThrow('too many subscriptions');
    const refusedIterated = setUp('0', {
      opened() {
        throw new Error('too many subscriptions');
      },
      closed: () => void calls.push('closed after a refusal'),
    });
    await expect(refusedIterated.stream[Symbol.asyncIterator]().next()).rejects.toThrow('too many subscriptions');
    expect(refusedSink.ids).toEqual([]);
    expect(refused.hub.subscriberCount).toBe(0);
    expect(calls).not.toContain('closed after a refusal');
  });

  test('a stream is drained once: a second drain gets nothing and opens nothing', async () => {
    let opened = 0;
    const { stream, abort } = setUp('0', { opened: () => void opened++, closed() {} });
    const first = recordingSink();
    const pushing = stream.pushTo(first, 'websocket');
    await until(() => first.ids.length === 5);
    const second = recordingSink();
    await stream.pushTo(second, 'websocket');
    expect(await stream[Symbol.asyncIterator]().next()).toEqual({ done: true, value: undefined });
    expect(second.ids).toEqual([]);
    expect(opened).toBe(1);
    abort.abort();
    await pushing;
  });
});
