import type { OrderCounts } from '../../../shared/order-counts.ts';
import type { OrderEvent } from '../../../shared/orders.ts';
import { positionOf } from '../../../shared/resume-id.ts';
import { CountsKeeper } from './counts-keeper.ts';
import type { Api } from './links.ts';
import type { LiveOrders } from './live-orders.ts';

export type LiveCountsOptions = {
  /** the owner's current typed client */
  api: () => Api;
  changed: (counts: OrderCounts) => void;
  failed: (err: unknown) => void;
  retryDelayMs: () => number;
  /** where the owner's own changes have reached (its `lastEventId`) */
  ownPosition: () => string | null;
  /**
   * Set when the owner's copy is filtered: opens an unfiltered changes-only stream from a
   * resume id, whose changes the counts follow instead of the owner's (a filtered stream
   * does not carry an order leaving the status).
   */
  openUnfiltered?: (from: string) => LiveOrders;
};

/**
 * A LiveOrders' counts per status (its `counts` option): a CountsKeeper taken again with each
 * snapshot, fed by the owner's changes or by an unfiltered stream of its own, and read again
 * after a while when a read fails.
 */
export class LiveCounts {
  readonly #opts: LiveCountsOptions;
  #keeper: CountsKeeper | null = null;
  #stream: LiveOrders | null = null;
  #retry: ReturnType<typeof setTimeout> | undefined;

  constructor(opts: LiveCountsOptions) {
    this.#opts = opts;
  }

  /** Null before the first read is in, and after `stop`. */
  get counts(): OrderCounts | null {
    return this.#keeper?.counts ?? null;
  }

  /** Counts at a snapshot's position (its first page's), moved from there by every change. */
  takeAt(resumeId: string): void {
    void this.stop();
    const keeper = new CountsKeeper(this.#opts.api, this.#opts.changed, (err) => this.#readFailed(keeper, err));
    this.#keeper = keeper;
    keeper.takeAt(positionOf(resumeId));
    if (!this.#opts.openUnfiltered) return;
    const stream = this.#opts.openUnfiltered(resumeId);
    stream.on('change', (event) => keeper.apply(event));
    // It lost its place (pruned, a restore) and went on from the log's end: count again there.
    stream.on('resynced', ({ lastEventId }) => keeper.takeAt(lastEventId));
    this.#stream = stream;
  }

  /** One of the owner's changes: followed unless the counts have a stream of their own. */
  ownChange(event: OrderEvent): void {
    if (!this.#stream) this.#keeper?.apply(event);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#retry);
    this.#keeper?.dispose();
    this.#keeper = null;
    const stream = this.#stream;
    this.#stream = null;
    await stream?.close();
  }

  /**
   * The counts could not be read (the server away, or their position pruned meanwhile):
   * again in a while, at the position the changes have reached by then, so none is missed.
   */
  #readFailed(keeper: CountsKeeper, err: unknown) {
    this.#opts.failed(err);
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => {
      if (keeper !== this.#keeper) return;
      const position = this.#stream ? this.#stream.lastEventId : this.#opts.ownPosition();
      if (position !== null) keeper.takeAt(position);
    }, this.#opts.retryDelayMs());
  }
}
