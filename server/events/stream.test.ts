import { describe, expect, test } from 'vitest';
import type { EventFilter, OrderEvent } from '../../shared/orders.ts';
import type { OrderStatus } from '../../shared/order-status.ts';
import { matchesFilter } from '../../shared/orders.ts';
import { EventHub } from './hub.ts';
import { streamEvents } from './stream.ts';

// The seam logic of streamEvents, with the log as an array: what the database would return
// is "every committed event after the position", which the array models exactly.
function event(id: number, status: OrderStatus = 'pending', orderId = '1'): OrderEvent {
  const order = { id: orderId, customerName: 'c', productName: 'p', status, version: 1, createdAt: '', updatedAt: '' };
  return { id: String(id), type: 'updated', orderId, order, actor: 'test', at: '' };
}

function memoryLog() {
  const committed: OrderEvent[] = [];
  let reads = 0;
  return {
    committed,
    get reads() {
      return reads;
    },
    readLog: async (after: string, limit: number, filter: EventFilter) => {
      reads++;
      return committed.filter((e) => Number(e.id) > Number(after) && matchesFilter(e, filter)).slice(0, limit);
    },
  };
}

async function take(iterator: AsyncIterator<OrderEvent>, count: number): Promise<string[]> {
  const ids: string[] = [];
  while (ids.length < count) {
    const next = await iterator.next();
    if (next.done) break;
    ids.push(next.value.id);
  }
  return ids;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

describe('streamEvents', () => {
  test('replays the log after `after`, then goes live, without a duplicate at the seam', async () => {
    const log = memoryLog();
    for (let i = 1; i <= 10; i++) log.committed.push(event(i));
    const hub = new EventHub('10');
    const abort = new AbortController();
    const stream = streamEvents(hub, log.readLog, 4, { after: '3', filter: {}, signal: abort.signal });

    const first = take(stream, 3);
    // Events 8..12 are published while the replay runs: 8..10 are also in the log.
    log.committed.push(event(11), event(12));
    hub.publish(log.committed.slice(7));
    expect(await first).toEqual(['4', '5', '6']);
    expect(await take(stream, 6)).toEqual(range(7, 12));

    const more = take(stream, 1);
    hub.publish([event(13)]);
    expect(await more).toEqual(['13']);
    abort.abort();
    expect((await stream.next()).done).toBe(true);
    expect(hub.subscriberCount).toBe(0);
  });

  test('a subscriber that stops reading holds at most `capacity` events, then catches up from the log', async () => {
    const log = memoryLog();
    const hub = new EventHub('0', 100);
    const abort = new AbortController();
    const stream = streamEvents(hub, log.readLog, 1000, { after: null, filter: {}, signal: abort.signal });
    const firstRead = stream.next(); // attaches, then waits for the first event
    await Promise.resolve();

    for (let i = 1; i <= 5000; i++) {
      const e = event(i);
      log.committed.push(e);
      hub.publish([e]);
    }
    expect((await firstRead).value?.id).toBe('1');
    const readsBefore = log.reads;
    const rest = await take(stream, 4999);
    expect(rest).toEqual(range(2, 5000));
    expect(log.reads).toBeGreaterThan(readsBefore); // it went back to the log
    abort.abort();
  });

  test('filters live and replayed events alike', async () => {
    const log = memoryLog();
    log.committed.push(event(1, 'shipped', '7'), event(2, 'pending', '7'), event(3, 'shipped', '8'));
    const hub = new EventHub('3');
    const abort = new AbortController();
    const stream = streamEvents(hub, log.readLog, 10, { after: '0', filter: { status: 'shipped' }, signal: abort.signal });
    expect(await take(stream, 2)).toEqual(['1', '3']);
    const live = take(stream, 1);
    const later = [event(4, 'pending', '7'), event(5, 'shipped', '9')];
    log.committed.push(...later);
    hub.publish(later);
    expect(await live).toEqual(['5']);
    abort.abort();
  });
});
