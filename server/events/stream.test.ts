import { describe, expect, test } from 'vitest';
import type { EventFilter, OrderEvent } from '../../shared/orders.ts';
import type { OrderStatus } from '../../shared/order-status.ts';
import { matchesFilter } from '../../shared/orders.ts';
import { EventHub } from './hub.ts';
import { pushEvents, streamEvents } from './stream.ts';

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

  test('reads the next page while sending one, and loses nothing published in between', async () => {
    const log = memoryLog();
    log.committed.push(event(1), event(2));
    const hub = new EventHub('2', 1024, undefined, 0); // no ring of recent events: every read is the log's
    const abort = new AbortController();
    const stream = streamEvents(hub, log.readLog, 2, { after: '0', filter: {}, signal: abort.signal });
    // The first page is full, so the read of the next one starts at once: it sees nothing.
    expect((await stream.next()).value?.id).toBe('1');
    expect(log.reads).toBe(2);
    // Committed and published after that read began: not in it, so it must be in the queue.
    log.committed.push(event(3));
    hub.publish([event(3)]);
    const rest = take(stream, 2);
    const late = new Promise((_, reject) => setTimeout(() => reject(new Error('event 3 never came')), 2_000));
    expect(await Promise.race([rest, late])).toEqual(['2', '3']);
    abort.abort();
  });

  test('pushEvents: sends the replay, then live as published, and falls back to the log when the sink is full', async () => {
    const log = memoryLog();
    for (let i = 1; i <= 5; i++) log.committed.push(event(i, i % 2 ? 'shipped' : 'pending'));
    const hub = new EventHub('5');
    const abort = new AbortController();
    const sent: string[] = [];
    let room = true;
    let waiting: (() => void) | undefined;
    const sink = {
      hasRoom: () => room,
      send: (e: OrderEvent) => void sent.push(e.id),
      waitForRoom: () => new Promise<void>((resolve) => (waiting = resolve)),
    };
    const filter = { status: 'shipped' } as const;
    const pushing = pushEvents(hub, log.readLog, 2, { after: '0', filter, signal: abort.signal }, sink);
    const publish = (from: number, to: number, status: OrderStatus = 'shipped') => {
      const events = Array.from({ length: to - from + 1 }, (_, i) => event(from + i, status));
      log.committed.push(...events);
      hub.publish(events);
    };
    await until(() => sent.length === 3);
    expect(sent).toEqual(['1', '3', '5']); // the replay, filtered

    publish(6, 7);
    expect(sent).toEqual(['1', '3', '5', '6', '7']); // sent as published, synchronously

    // The sink fills up: events published meanwhile are not sent, but read from the log
    // once there is room again, and nothing is sent twice.
    room = false;
    publish(8, 9);
    publish(10, 10, 'pending');
    publish(11, 12);
    expect(sent).toEqual(['1', '3', '5', '6', '7']);
    await until(() => waiting !== undefined);
    room = true;
    waiting!();
    await until(() => sent.length === 9);
    publish(13, 13);
    expect(sent).toEqual(['1', '3', '5', '6', '7', '8', '9', '11', '12', '13']);

    abort.abort();
    await pushing;
    expect(hub.subscriberCount).toBe(0);
  });

  test('the generator end stops the core when its consumer stops pulling', async () => {
    const log = memoryLog();
    const hub = new EventHub('0');
    const stream = streamEvents(hub, log.readLog, 10, { after: null, filter: {}, signal: new AbortController().signal });
    const first = stream.next();
    await until(() => hub.subscriberCount === 1);
    log.committed.push(event(1));
    hub.publish([event(1)]);
    expect((await first).value?.id).toBe('1');
    await stream.return(undefined);
    expect(hub.subscriberCount).toBe(0);
  });
});

/** Waits for a condition the stream reaches through promises, with a deadline. */
async function until(condition: () => boolean, deadlineMs = 2_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

describe('catching up from the hub', () => {
  test('overflowed subscribers catch up from the hub\'s recent events, the same objects, and from the log only past them', async () => {
    const log = memoryLog();
    const hub = new EventHub('0', 10, undefined, 100);
    const abort = new AbortController();
    const sinks = Array.from({ length: 3 }, () => {
      const sent: OrderEvent[] = [];
      return {
        sent,
        hasRoom: () => sent.length % 7 !== 6, // full now and then: overflows again and again
        send: (e: OrderEvent) => void sent.push(e),
        waitForRoom: async () => void sent.push(SPACER),
      };
    });
    const SPACER = event(0);
    const pushing = sinks.map((sink) => pushEvents(hub, log.readLog, 5, { after: null, filter: {}, signal: abort.signal }, sink));
    await Promise.resolve();
    const published: OrderEvent[] = [];
    for (let i = 1; i <= 60; i++) {
      const e = event(i);
      log.committed.push(e);
      published.push(e);
      hub.publish([e]);
    }
    for (const sink of sinks) {
      await until(() => sink.sent.filter((e) => e !== SPACER).length === 60);
      const got = sink.sent.filter((e) => e !== SPACER);
      expect(got.map((e) => e.id)).toEqual(range(1, 60));
      // The very objects published: their frames are built once for every subscriber.
      expect(got.every((e, i) => e === published[i])).toBe(true);
    }
    expect(log.reads).toBe(0);
    abort.abort();
    await Promise.all(pushing);

    // A subscriber resuming from before the ring (100 events kept of 260) reads the log for the
    // part the ring no longer holds, then the ring.
    for (let i = 61; i <= 260; i++) {
      const e = event(i);
      log.committed.push(e);
      hub.publish([e]);
    }
    const late: OrderEvent[] = [];
    const stop = new AbortController();
    const resuming = pushEvents(hub, log.readLog, 50, { after: '100', filter: {}, signal: stop.signal }, {
      hasRoom: () => true,
      send: (e: OrderEvent) => void late.push(e),
      waitForRoom: async () => {},
    });
    await until(() => late.length === 160);
    expect(late.map((e) => e.id)).toEqual(range(101, 260));
    // 101..150 and 151..200 from the log (the second read began before the ring), the rest from memory.
    expect(log.reads).toBe(2);
    stop.abort();
    await resuming;
    expect(hub.subscriberCount).toBe(0);
  });
});
