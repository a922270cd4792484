import { matchesFilter, type EventFilter, type OrderEvent } from '../../shared/orders.ts';
import { positionOf, type ResumeId } from '../../shared/resume-id.ts';
import { resumeIdOf } from './logged-event.ts';
import { isAfter } from './position.ts';

/**
 * In-process fan-out from the listener to subscriptions. Publishing appends the same event
 * objects to each subscriber's queue and wakes it: O(subscribers) per page, no I/O, so one
 * slow subscriber never delays another.
 *
 * Each queue is bounded. A subscriber that falls `capacity` events behind loses its queue and
 * is marked `overflowed`; it then catches up from the hub's recent events while its place is
 * among them, else from the log, which holds everything. So memory per subscriber is bounded
 * and nothing is lost.
 *
 * The recent events are a ring of the last `recentCapacity` published events (four queues'
 * worth by default): a burst that overruns many subscribers at once is served to each of them
 * from memory, as the same event objects live delivery sent, so their frames are built once
 * (trpc/event-frames.ts caches by event), instead of one log read and one frame per event per
 * subscriber. Memory stays bounded by the ring's size, whatever the number of subscribers.
 */
export class EventHub {
  /** Position of the newest event published; the live end for new subscribers. */
  position: string;
  /**
   * The same as a resume id, naming the newest event published: what the listener reads
   * after, and where a subscriber that starts at the live end stands, so that either is told
   * when the log's history changes under it (shared/resume-id.ts).
   */
  resumeId: ResumeId;
  readonly #subscribers = new Set<HubSubscriber>();
  /** The recent events, oldest first, from `#recentStart` on (slots before it await compaction). */
  #recent: OrderEvent[] = [];
  #recentStart = 0;
  /** The position just before the oldest recent event: a reader at or after it is served from memory. */
  #recentAfter: string;
  /** After a skip (skipTo), readers at or before this position go to the log, which checks their place. */
  #checkedAfter: string | undefined;

  constructor(
    /** The log's head as a resume id (or a plain position) */
    start: ResumeId,
    readonly capacity = 1024,
    /** Told each time a subscriber overflows (the metrics count them). */
    readonly onOverflow: () => void = () => {},
    /** 0: no ring, every catch-up reads the log */
    readonly recentCapacity = 4 * capacity,
  ) {
    this.position = positionOf(start);
    this.resumeId = start;
    this.#recentAfter = this.position;
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  publish(events: readonly OrderEvent[]): void {
    const last = events[events.length - 1];
    if (!last) return;
    this.position = last.id;
    this.resumeId = resumeIdOf(last);
    // Before the subscribers hear of them: one that overflows on this batch reads it here.
    this.#remember(events);
    for (const s of this.#subscribers) s.push(events);
  }

  #remember(events: readonly OrderEvent[]): void {
    for (const e of events) this.#recent.push(e);
    const excess = this.#recent.length - this.#recentStart - this.recentCapacity;
    if (excess > 0) {
      this.#recentStart += excess;
      this.#recentAfter = this.#recent[this.#recentStart - 1]!.id;
    }
    // Compacted once the dropped slots outnumber the kept ones: amortized O(1) per event, and
    // at most twice the ring's size referenced.
    if (this.#recentStart >= this.recentCapacity) {
      this.#recent = this.#recent.slice(this.#recentStart);
      this.#recentStart = 0;
    }
  }

  /**
   * The published events after `after` that match `filter`, at most `limit`, from memory;
   * undefined when `after` is older than the ring (the log must serve it). Everything
   * published up to now that is after `after` is either returned or beyond `limit`, as a log
   * read up to the hub's position would be.
   */
  recentAfter(after: string, limit: number, filter: EventFilter): OrderEvent[] | undefined {
    if (this.recentCapacity === 0 || isAfter(this.#recentAfter, after)) return undefined;
    if (this.#checkedAfter !== undefined && !isAfter(after, this.#checkedAfter)) return undefined;
    const recent = this.#recent;
    // The first event after `after`: positions grow along the ring.
    let lo = this.#recentStart;
    let hi = recent.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (isAfter(recent[mid]!.id, after)) hi = mid;
      else lo = mid + 1;
    }
    const page: OrderEvent[] = [];
    for (let i = lo; i < recent.length && page.length < limit; i++) {
      const event = recent[i]!;
      if (matchesFilter(event, filter)) page.push(event);
    }
    return page;
  }

  /**
   * The log cannot go on from `position` (LogGapError: pruned past it, behind it after a
   * restore, or its event gone after a failover): the hub goes on from `to` (a resume id),
   * and every subscriber drops its queue and reads the log from its own place, where it finds
   * the gap and is refused, not handed a gap (or finds none, if its place is intact).
   */
  skipTo(to: ResumeId): void {
    this.position = positionOf(to);
    this.resumeId = to;
    // What the ring holds is on the other side of the gap, and a reader at `to` itself must
    // have its own event checked by the log (its history may differ there).
    this.#recent = [];
    this.#recentStart = 0;
    this.#recentAfter = this.position;
    this.#checkedAfter = this.position;
    for (const s of this.#subscribers) s.rereadLog();
  }

  subscribe(): HubSubscriber {
    const s = new HubSubscriber(this, this.capacity);
    this.#subscribers.add(s);
    return s;
  }

  /** Called by a subscriber's `close()`. */
  unsubscribe(s: HubSubscriber): void {
    this.#subscribers.delete(s);
  }
}

/** Takes a published batch at once; false when it could not take all of it (an overflow). */
type TakeBatch = (events: readonly OrderEvent[]) => boolean;

export class HubSubscriber {
  #queue: OrderEvent[] = [];
  #overflowed = false;
  #waiting: { resolve: () => void; signal: AbortSignal } | undefined;
  #take: TakeBatch | undefined;

  constructor(
    private readonly hub: EventHub,
    private readonly capacity: number,
  ) {}

  /** The hub's recent events after `after` (EventHub.recentAfter); undefined: read the log. */
  recentAfter(after: string, limit: number, filter: EventFilter): OrderEvent[] | undefined {
    return this.hub.recentAfter(after, limit, filter);
  }

  /** The hub's position as a resume id: the live end, when this subscriber started. */
  get hubResumeId(): ResumeId {
    return this.hub.resumeId;
  }

  close(): void {
    this.hub.unsubscribe(this);
  }

  get overflowed(): boolean {
    return this.#overflowed;
  }

  push(events: readonly OrderEvent[]): void {
    if (this.#take) {
      let took = false;
      try {
        took = this.#take(events);
      } catch {
        // Counted as an overflow: the subscriber re-reads from the log, where a lasting
        // problem surfaces as its own error instead of breaking publish for everyone.
      }
      if (took) return;
      this.#take = undefined;
      this.#overflow();
    } else if (!this.#overflowed) {
      if (this.#queue.length + events.length > this.capacity) {
        this.#queue = [];
        this.#overflow();
      } else {
        for (const e of events) this.#queue.push(e);
      }
    }
    this.#wakeUp();
  }

  /** A slow subscriber: it lost its place in the queue or the socket (counted in the metrics). */
  #overflow(): void {
    this.#overflowed = true;
    this.hub.onOverflow();
  }

  /**
   * Drops the queue and sends the subscriber back to the log, though it kept up: the log has a
   * gap where the hub was (see EventHub.skipTo). Not counted as a slow subscriber's overflow.
   */
  rereadLog(): void {
    this.#queue = [];
    this.#take = undefined;
    this.#overflowed = true;
    this.#wakeUp();
  }

  /**
   * From now on each published batch goes to `take` as it is published, instead of into the
   * queue, until it returns false (then the subscriber is overflowed and woken) or
   * `detach()`. The queue must be empty: the caller has taken it.
   */
  attach(take: TakeBatch): void {
    this.#take = take;
  }

  detach(): void {
    this.#take = undefined;
  }

  /** Everything queued so far, oldest first; the queue starts again empty. */
  take(): OrderEvent[] {
    const taken = this.#queue;
    this.#queue = [];
    return taken;
  }

  /** Drops the queue and the overflow mark: the caller is about to read the log instead. */
  reset(): void {
    this.#queue = [];
    this.#overflowed = false;
  }

  /** Resolves when something is pushed, or when `signal` aborts. */
  wait(signal: AbortSignal): Promise<void> {
    if (this.#queue.length > 0 || this.#overflowed || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiting = { resolve, signal };
      // This object is the listener (handleEvent): no closure per wait.
      signal.addEventListener('abort', this, { once: true });
    });
  }

  /** The abort of a `wait`'s signal. */
  handleEvent(): void {
    this.#wakeUp();
  }

  #wakeUp(): void {
    const waiting = this.#waiting;
    if (!waiting) return;
    this.#waiting = undefined;
    waiting.signal.removeEventListener('abort', this);
    waiting.resolve();
  }
}
