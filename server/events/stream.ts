import { matchesFilter, type EventFilter, type OrderEvent } from '../../shared/orders.ts';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { backoffDelay, sleep } from '../retry.ts';
import type { EventHub } from './hub.ts';
import { isAfter } from './position.ts';

/** Reads a page of the log after a position, filtered like `matchesFilter`. */
export type ReadLog = (after: string, limit: number, filter: EventFilter) => Promise<OrderEvent[]>;

/**
 * A way to the client that skips the generator (see trpc/subscription-outlet.ts). Until it is
 * `ready` the stream yields; from then on it sends, and live events are sent as the hub
 * publishes them, without a generator step per subscriber per event.
 */
export type Outlet = {
  readonly ready: boolean;
  hasRoom(): boolean;
  send(event: OrderEvent): void;
  waitForRoom(signal: AbortSignal): Promise<void>;
};

export type StreamOptions = {
  /** Resume after this position; null starts at the live end. */
  after: string | null;
  filter: EventFilter;
  signal: AbortSignal;
  outlet?: Outlet;
};

/**
 * The events one subscriber receives: replay from the log after `after`, then live, with no
 * gap and no duplicate at the seam. Yielded, or sent through `outlet` once it is ready.
 *
 * Why there is no gap: we attach to the hub *before* reading the log. Every event committed
 * before the log read is in the read; every event published after attaching is in the queue
 * (or goes to the outlet); an event in both is skipped because `cursor` has passed it. The
 * same holds each time the subscriber overflows (its queue, or its socket's room) and falls
 * back to the log. Memory stays bounded: at most two pages of the log are held (one being
 * sent while the next is read), the queue has the hub's capacity, and the outlet sends only
 * while the socket has room.
 */
export async function* streamEvents(
  hub: EventHub,
  readLog: ReadLog,
  pageSize: number,
  { after, filter, signal, outlet }: StreamOptions,
): AsyncGenerator<OrderEvent> {
  const subscriber = hub.subscribe();
  const direct = () => outlet !== undefined && outlet.ready;
  let cursor = after ?? hub.position;

  /** Sends the events after `cursor` that match; false when the socket ran out of room. */
  const deliver = (events: readonly OrderEvent[]): boolean => {
    for (const event of events) {
      if (!isAfter(event.id, cursor)) continue;
      if (matchesFilter(event, filter)) {
        if (!outlet!.hasRoom()) return false;
        outlet!.send(event);
      }
      cursor = event.id;
    }
    return true;
  };

  /** The page after `position`. Anything queued until now is in it, or older than `position`. */
  const readAfter = (position: string) => {
    subscriber.reset();
    const page = readPatiently(readLog, position, pageSize, filter, signal);
    page.catch(() => {}); // awaited in the loop, unless the subscriber goes away first
    return page;
  };
  let ahead: Promise<OrderEvent[] | undefined> | undefined;

  try {
    let fromLog = after !== null;
    while (!signal.aborted) {
      if (fromLog || subscriber.overflowed || ahead) {
        if (!ahead && direct() && !outlet!.hasRoom()) await outlet!.waitForRoom(signal);
        const page = await (ahead ?? readAfter(cursor));
        ahead = undefined;
        if (page === undefined) break; // aborted while the database was away
        // A full page: the next one is read while this one is sent. A short one means we
        // reached the end of what was visible: the queue has the rest.
        if (page.length === pageSize) ahead = readAfter(page.at(-1)!.id);
        for (const event of page) {
          if (!direct()) yield event;
          else {
            if (!outlet!.hasRoom()) await outlet!.waitForRoom(signal);
            if (signal.aborted) return;
            outlet!.send(event);
          }
          cursor = event.id;
        }
        fromLog = false;
        continue;
      }
      if (direct()) {
        // What queued up while we were away, then every batch as it is published.
        if (deliver(subscriber.take())) {
          subscriber.attach(deliver);
          await subscriber.wait(signal); // until the socket runs out of room, or the end
          subscriber.detach();
        } else {
          fromLog = true;
        }
        continue;
      }
      const batch = subscriber.take();
      for (let i = 0; i < batch.length; i++) {
        if (direct()) {
          // The last yield made the outlet ready: the rest of the batch goes through it.
          if (!deliver(batch.slice(i))) fromLog = true;
          break;
        }
        const event = batch[i]!;
        if (!isAfter(event.id, cursor)) continue;
        if (matchesFilter(event, filter)) yield event;
        cursor = event.id;
        if (subscriber.overflowed || signal.aborted) break;
      }
      if (batch.length === 0) await subscriber.wait(signal);
    }
  } finally {
    subscriber.close();
  }
}

/**
 * A log read that outlasts a database outage: the subscriber keeps its place and resumes when
 * the database is back, instead of failing the subscription. Other errors still fail it.
 */
async function readPatiently(
  readLog: ReadLog,
  after: string,
  limit: number,
  filter: EventFilter,
  signal: AbortSignal,
): Promise<OrderEvent[] | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await readLog(after, limit, filter);
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      await sleep(backoffDelay(attempt), signal);
      if (signal.aborted) return undefined;
    }
  }
}
