import { applyCountMoves, totalOf, type OrderCounts } from '../../../shared/order-counts.ts';
import type { OrderEvent } from '../../../shared/orders.ts';
import { isAfter } from '../../../shared/positions.ts';
import type { Api } from './links.ts';

/**
 * The orders per status, kept exact by the log: taken at a known position
 * (`orders.counts({ asOf })`), then moved by every event after it, in order (`countMoves`,
 * shared/order-counts.ts). Events that arrive while the counts are being read wait, and those
 * after the position are applied once they are in, so none is missed or counted twice.
 *
 * It needs every event, unfiltered: the LiveOrders that owns it feeds it its own changes, or
 * those of a second, unfiltered stream when its copy is filtered (live-orders.ts).
 */
export class CountsKeeper {
  #counts: OrderCounts | null = null;
  /** Events received while the counts at `#base` are being read. */
  #waiting: OrderEvent[] = [];
  #base = '0';
  /** Bumped by every `takeAt`: an answer for an older base is dropped. */
  #generation = 0;

  constructor(
    /** the owner's current typed client (it may change: a fallback to SSE, a renewed token) */
    private readonly api: () => Api,
    private readonly changed: (counts: OrderCounts) => void,
    private readonly failed: (err: unknown) => void,
  ) {}

  /** The counts and the position they are exact at; null until the first read is in. */
  get counts(): OrderCounts | null {
    return this.#counts;
  }

  /** (Re)takes the counts right after `position`; events from here on are after it or skipped. */
  takeAt(position: string): void {
    const generation = ++this.#generation;
    this.#counts = null;
    this.#waiting = [];
    this.#base = position;
    this.api().orders.counts.query({ asOf: position }).then(
      (taken) => {
        if (generation !== this.#generation) return;
        const counts = { ...taken, counts: { ...taken.counts } };
        for (const event of this.#waiting) moveBy(counts, event);
        this.#waiting = [];
        this.#counts = counts;
        this.#tell();
      },
      (err: unknown) => {
        if (generation === this.#generation) this.failed(err);
      },
    );
  }

  /** One event of the log, in order. */
  apply(event: OrderEvent): void {
    if (!isAfter(event.id, this.#counts?.lastEventId ?? this.#base)) return;
    if (!this.#counts) return void this.#waiting.push(event);
    moveBy(this.#counts, event);
    this.#tell();
  }

  /** Listeners get their own copy: one they keep is not changed under them later. */
  #tell(): void {
    const counts = this.#counts!;
    this.changed({ ...counts, counts: { ...counts.counts } });
  }

  /** Stops: answers still on their way are dropped. */
  dispose(): void {
    this.#generation++;
    this.#waiting = [];
  }
}

function moveBy(counts: OrderCounts, event: OrderEvent): void {
  applyCountMoves(counts.counts, event);
  counts.total = totalOf(counts.counts);
  counts.lastEventId = event.id;
}
