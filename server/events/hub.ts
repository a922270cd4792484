import type { OrderEvent } from '../../shared/orders.ts';

/**
 * In-process fan-out from the listener to subscriptions. Publishing appends the same event
 * objects to each subscriber's queue and wakes it: O(subscribers) per page, no I/O, so one
 * slow subscriber never delays another.
 *
 * Each queue is bounded. A subscriber that falls `capacity` events behind loses its queue and
 * is marked `overflowed`; it then catches up from the log, which holds everything. So memory
 * per subscriber is bounded and nothing is lost.
 */
export class EventHub {
  /** Position of the newest event published; the live end for new subscribers. */
  position: string;
  readonly #subscribers = new Set<HubSubscriber>();

  constructor(
    startPosition: string,
    readonly capacity = 1024,
    /** Told each time a subscriber overflows (the metrics count them). */
    private readonly onOverflow: () => void = () => {},
  ) {
    this.position = startPosition;
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  publish(events: readonly OrderEvent[]): void {
    const last = events[events.length - 1];
    if (!last) return;
    this.position = last.id;
    for (const s of this.#subscribers) s.push(events);
  }

  /**
   * The log cannot go on from `position` (LogGapError: pruned past it, or behind it after a
   * restore): the hub goes on from `to`, and every subscriber drops its queue and reads the
   * log from its own place, where it finds the gap and is refused, not handed a gap.
   */
  skipTo(to: string): void {
    this.position = to;
    for (const s of this.#subscribers) s.rereadLog();
  }

  subscribe(): HubSubscriber {
    const s = new HubSubscriber(this.capacity, () => this.#subscribers.delete(s), this.onOverflow);
    this.#subscribers.add(s);
    return s;
  }
}

/** Takes a published batch at once; false when it could not take all of it (an overflow). */
export type Deliver = (events: readonly OrderEvent[]) => boolean;

export class HubSubscriber {
  #queue: OrderEvent[] = [];
  #overflowed = false;
  #wake: (() => void) | undefined;
  #deliver: Deliver | undefined;

  constructor(
    private readonly capacity: number,
    readonly close: () => void,
    private readonly onOverflow: () => void = () => {},
  ) {}

  get overflowed(): boolean {
    return this.#overflowed;
  }

  push(events: readonly OrderEvent[]): void {
    if (this.#deliver) {
      let took = false;
      try {
        took = this.#deliver(events);
      } catch {
        // Counted as an overflow: the subscriber re-reads from the log, where a lasting
        // problem surfaces as its own error instead of breaking publish for everyone.
      }
      if (took) return;
      this.#deliver = undefined;
      this.#overflow();
    } else if (!this.#overflowed) {
      if (this.#queue.length + events.length > this.capacity) {
        this.#queue = [];
        this.#overflow();
      } else {
        for (const e of events) this.#queue.push(e);
      }
    }
    this.#wake?.();
  }

  /** A slow subscriber: it lost its place in the queue or the socket (counted in the metrics). */
  #overflow(): void {
    this.#overflowed = true;
    this.onOverflow();
  }

  /**
   * Drops the queue and sends the subscriber back to the log, though it kept up: the log has a
   * gap where the hub was (see EventHub.skipTo). Not counted as a slow subscriber's overflow.
   */
  rereadLog(): void {
    this.#queue = [];
    this.#deliver = undefined;
    this.#overflowed = true;
    this.#wake?.();
  }

  /**
   * From now on each published batch goes to `deliver` as it is published, instead of into
   * the queue, until it returns false (then the subscriber is overflowed and woken) or
   * `detach()`. The queue must be empty: the caller has taken it.
   */
  attach(deliver: Deliver): void {
    this.#deliver = deliver;
  }

  detach(): void {
    this.#deliver = undefined;
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
      const done = () => {
        this.#wake = undefined;
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
