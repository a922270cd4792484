import { matchesFilter, type EventFilter, type OrderEvent } from '../../shared/orders.ts';
import { positionOf, type ResumeId } from '../../shared/resume-id.ts';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { LogGapError } from '../db/events.ts';
import { backoffDelay, sleep } from '../retry.ts';
import { untilWoken } from '../until-woken.ts';
import { SUBSCRIBER_READ_TIME_LIMIT_MS, withTimeLimit } from '../time-limit.ts';
import type { EventSink } from './event-sink.ts';
import type { EventHub, HubSubscriber } from './hub.ts';
import { resumeIdOf } from './logged-event.ts';
import { isAfter } from './position.ts';

/**
 * Reads a page of the log after a resume id, filtered like `matchesFilter`; refuses (with
 * LogGapError) when the event the id names is no longer the one the log holds there.
 */
export type ReadLog = (after: ResumeId, limit: number, filter: EventFilter) => Promise<OrderEvent[]>;

export type StreamOptions = {
  /** Resume after this resume id (a position, or a position and digest); null starts at the live end. */
  after: ResumeId | null;
  filter: EventFilter;
  signal: AbortSignal;
};

/**
 * The push core: sends one subscriber's events to `sink`, replay from the log after `after`,
 * then live, with no gap and no duplicate at the seam, until `signal` aborts. Two thin ends
 * use it (both drains of an `EventStream`, event-stream.ts): a WebSocket subscription's
 * frames (ws/subscription-sink.ts) and `streamEvents` below, an async generator for tRPC's
 * HTTP and SSE path.
 *
 * Why there is no gap: we attach to the hub *before* reading the log. Every event committed
 * before the log read is in the read; every event published after attaching is in the queue
 * (or goes straight to the sink); an event in both is skipped because `cursor` has passed it.
 * The same holds each time the subscriber overflows (the hub's queue, or the sink's room) and
 * falls back to the log. Memory stays bounded: at most two pages of the log are held (one
 * being sent while the next is read), the queue has the hub's capacity, and the sink is sent
 * to only while it has room.
 */
export function pushEvents(
  hub: EventHub,
  readLog: ReadLog,
  pageSize: number,
  options: StreamOptions,
  sink: EventSink,
): Promise<void> {
  return new Push(hub.subscribe(), readLog, pageSize, options, sink).run(options.after);
}

/**
 * One subscriber's push, as an object rather than closures: a subscription holds it for its
 * whole life (and under tsx every named closure carries a renamed `name`, a few hundred bytes).
 */
class Push {
  /** The position of the last event passed (sent, or skipped by the filter): compared per event. */
  #cursor: string;
  /**
   * The last event passed, whose resume id the next log read starts after (so the read is
   * refused if the log's history changed under it); before any, the id the push started at.
   */
  #cursorEvent: OrderEvent | undefined;
  /** The last event sent to the sink: what the client has seen last (the cursor may be past it). */
  #sentEvent: OrderEvent | undefined;
  readonly #start: ResumeId;
  /**
   * Whether the log has accepted where this subscriber resumes: a resume position is checked
   * by the log (pruned, ahead of it), so the first read goes there whatever the hub holds.
   */
  #resumeChecked: boolean;
  readonly #take = this.take.bind(this);

  constructor(
    private readonly subscriber: HubSubscriber,
    private readonly readLog: ReadLog,
    private readonly pageSize: number,
    private readonly options: StreamOptions,
    private readonly sink: EventSink,
  ) {
    this.#start = options.after ?? subscriber.hubResumeId;
    this.#cursor = positionOf(this.#start);
    this.#resumeChecked = options.after === null;
  }

  #cursorId(): ResumeId {
    return this.#cursorEvent === undefined ? this.#start : resumeIdOf(this.#cursorEvent);
  }

  /** Sends the events after the cursor that match; false when the sink ran out of room. */
  take(events: readonly OrderEvent[]): boolean {
    const { sink } = this;
    const { filter } = this.options;
    const last = events.length - 1;
    for (let i = 0; i <= last; i++) {
      const event = events[i]!;
      if (!isAfter(event.id, this.#cursor)) continue;
      if (matchesFilter(event, filter)) {
        if (!sink.hasRoom()) return false;
        sink.send(event, i < last);
        this.#sentEvent = event;
      }
      this.#cursor = event.id;
      this.#cursorEvent = event;
    }
    return true;
  }

  /**
   * The log's history changed under the cursor (LogGapError 'diverged': a failover or a
   * restore). The client has seen the events sent, not the cursor, which also passed events
   * its filter skipped: if the last one sent is not the cursor's, go back to it, and the
   * next read either goes on from there with no gap or is refused in turn. True if it did.
   */
  #backToLastSent(err: unknown): boolean {
    if (!(err instanceof LogGapError) || err.reason !== 'diverged' || this.#cursorEvent === this.#sentEvent) return false;
    this.#cursorEvent = this.#sentEvent;
    this.#cursor = this.#sentEvent?.id ?? positionOf(this.#start);
    return true;
  }

  /** The page after `from`. Anything queued until now is in it, or older than `from`. */
  readAfter(from: ResumeId): Promise<OrderEvent[] | undefined> {
    this.subscriber.reset();
    // Among the hub's recent events: from memory, everything published up to now (later ones
    // queue); older than those: the log.
    if (this.#resumeChecked) {
      const recent = this.subscriber.recentAfter(positionOf(from), this.pageSize, this.options.filter);
      if (recent !== undefined) return Promise.resolve(recent);
    }
    const page = readPatiently(this.readLog, from, this.pageSize, this.options.filter, this.options.signal);
    page.then(
      () => (this.#resumeChecked = true),
      () => {}, // awaited in the loop, unless the subscriber goes away first
    );
    return page;
  }

  async run(after: string | null): Promise<void> {
    const { subscriber, sink } = this;
    const { signal } = this.options;
    let ahead: Promise<OrderEvent[] | undefined> | undefined;
    try {
      let fromLog = after !== null;
      while (!signal.aborted) {
        if (fromLog || subscriber.overflowed || ahead) {
          if (!ahead && !sink.hasRoom()) await sink.waitForRoom(signal);
          let page: OrderEvent[] | undefined;
          try {
            page = await (ahead ?? this.readAfter(this.#cursorId()));
          } catch (err) {
            ahead = undefined;
            if (!this.#backToLastSent(err)) throw err;
            fromLog = true;
            continue;
          }
          ahead = undefined;
          if (page === undefined) break; // aborted while the database was away
          // A full page: the next one is read while this one is sent. A short one means we
          // reached the end of what was visible: the queue has the rest.
          if (page.length === this.pageSize) ahead = this.readAfter(resumeIdOf(page.at(-1)!));
          const last = page.length - 1;
          for (let i = 0; i <= last; i++) {
            const event = page[i]!;
            if (!sink.hasRoom()) await sink.waitForRoom(signal);
            if (signal.aborted) return;
            sink.send(event, i < last);
            this.#cursor = event.id;
            this.#cursorEvent = event;
            this.#sentEvent = event;
          }
          fromLog = false;
          continue;
        }
        // What queued up while we were away, then every batch as it is published, until the
        // sink runs out of room (the hub marks us overflowed and wakes us) or the end.
        if (this.take(subscriber.take())) {
          subscriber.attach(this.#take);
          await subscriber.wait(signal);
          subscriber.detach();
        } else {
          fromLog = true;
        }
      }
    } finally {
      subscriber.close();
    }
  }
}

/**
 * The generator end: the same events as `pushEvents`, yielded, for tRPC's HTTP and SSE path.
 * The core pushes into a bounded queue; a consumer that stops pulling fills it, and the core
 * then falls back to the log as it would for a full socket.
 */
export async function* streamEvents(
  hub: EventHub,
  readLog: ReadLog,
  pageSize: number,
  { after, filter, signal }: StreamOptions,
): AsyncGenerator<OrderEvent> {
  const queue = new EventQueue(hub.capacity);
  // Stops the core when the consumer stops pulling (return()) as well as on `signal`.
  const stop = new AbortController();
  const stopped = AbortSignal.any([signal, stop.signal]);
  const pushing = pushEvents(hub, readLog, pageSize, { after, filter, signal: stopped }, queue).then(
    () => queue.end(),
    (err: unknown) => queue.end(err),
  );
  try {
    for (;;) {
      const batch = await queue.take(stopped);
      if (batch === undefined) break;
      for (const event of batch) yield event;
    }
  } finally {
    stop.abort();
    await pushing;
  }
}

/** The generator end's sink: events wait here until the generator's consumer pulls them. */
class EventQueue implements EventSink {
  #events: OrderEvent[] = [];
  #ended = false;
  #error: unknown;
  #wakeReader: (() => void) | undefined;
  #wakeWriter: (() => void) | undefined;

  constructor(private readonly capacity: number) {}

  hasRoom(): boolean {
    return this.#events.length < this.capacity;
  }

  send(event: OrderEvent): void {
    this.#events.push(event);
    this.#wakeReader?.();
  }

  waitForRoom(signal: AbortSignal): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    return untilWoken(signal, (wake) => {
      this.#wakeWriter = wake;
      return () => (this.#wakeWriter = undefined);
    });
  }

  /** The core has finished, with `error` if it failed. */
  end(error?: unknown): void {
    this.#ended = true;
    this.#error = error;
    this.#wakeReader?.();
  }

  /** Everything queued, oldest first, once there is something; undefined at the end. */
  async take(signal: AbortSignal): Promise<OrderEvent[] | undefined> {
    while (this.#events.length === 0) {
      if (this.#ended) {
        if (this.#error !== undefined) throw this.#error;
        return undefined;
      }
      if (signal.aborted) return undefined;
      await untilWoken(signal, (wake) => {
        this.#wakeReader = wake;
        return () => (this.#wakeReader = undefined);
      });
    }
    const taken = this.#events;
    this.#events = [];
    this.#wakeWriter?.();
    return taken;
  }
}

/**
 * A log read that outlasts a database outage: the subscriber keeps its place and resumes when
 * the database is back, instead of failing the subscription. Other errors still fail it.
 */
async function readPatiently(
  readLog: ReadLog,
  after: ResumeId,
  limit: number,
  filter: EventFilter,
  signal: AbortSignal,
): Promise<OrderEvent[] | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await withTimeLimit(readLog(after, limit, filter), SUBSCRIBER_READ_TIME_LIMIT_MS, 'reading the log');
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      await sleep(backoffDelay(attempt), signal);
      if (signal.aborted) return undefined;
    }
  }
}
