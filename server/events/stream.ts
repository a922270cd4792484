import { matchesFilter, type EventFilter, type OrderEvent } from '../../shared/orders.ts';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { backoffDelay, sleep } from '../retry.ts';
import type { EventHub } from './hub.ts';
import { isAfter } from './position.ts';

/** Reads a page of the log after a position, filtered like `matchesFilter`. */
export type ReadLog = (after: string, limit: number, filter: EventFilter) => Promise<OrderEvent[]>;

export type StreamOptions = {
  /** Resume after this position; null starts at the live end. */
  after: string | null;
  filter: EventFilter;
  signal: AbortSignal;
};

/**
 * The events one subscriber receives: replay from the log after `after`, then live, with no
 * gap and no duplicate at the seam.
 *
 * Why there is no gap: we attach to the hub *before* reading the log. Every event committed
 * before the log read is in the read; every event published after attaching is in the queue;
 * an event in both is skipped because `cursor` has passed it. The same holds each time the
 * subscriber overflows its queue and falls back to the log. Memory stays bounded: the log is
 * read a page at a time, and the queue has the hub's capacity.
 */
export async function* streamEvents(
  hub: EventHub,
  readLog: ReadLog,
  pageSize: number,
  { after, filter, signal }: StreamOptions,
): AsyncGenerator<OrderEvent> {
  const subscriber = hub.subscribe();
  try {
    let cursor = after ?? hub.position;
    let fromLog = after !== null;
    while (!signal.aborted) {
      if (fromLog || subscriber.overflowed) {
        // Anything queued until now is either in the read below or older than `cursor`.
        subscriber.reset();
        const page = await readPatiently(readLog, cursor, pageSize, filter, signal);
        if (page === undefined) break; // aborted while the database was away
        for (const event of page) {
          cursor = event.id;
          yield event;
        }
        // A short page means we reached the end of what was visible: the queue has the rest.
        fromLog = page.length === pageSize;
        continue;
      }
      const batch = subscriber.take();
      for (const event of batch) {
        if (!isAfter(event.id, cursor)) continue;
        cursor = event.id;
        if (matchesFilter(event, filter)) yield event;
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
