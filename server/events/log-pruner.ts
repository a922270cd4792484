import type { Database } from '../db/client.ts';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { pruneEventBatch } from '../db/prune-events.ts';
import type { Logger } from '../logger.ts';
import { sleep } from '../retry.ts';

export type LogPrunerOptions = {
  db: Database;
  log: Logger;
  /** events older than this are pruned (EVENT_RETENTION) */
  retentionMs: number;
  /** how often (EVENT_PRUNE_INTERVAL) */
  intervalMs: number;
  /** events per statement */
  batchSize?: number;
};

// Small batches keep each statement's locks and WAL short, and a pause between them lets
// other work in: a first run over a large log must not starve the writers or the readers.
const DEFAULT_BATCH_SIZE = 1000;
const PAUSE_BETWEEN_BATCHES_MS = 20;
// setTimeout fires at once for anything longer (about 24.8 days).
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Prunes the log's old events (EVENT_RETENTION) every interval, in small batches, on every
 * node; a database lock lets one node at a time do it and the others skip their turn.
 * `orders` is never touched.
 */
export class LogPruner {
  readonly #opts: Required<LogPrunerOptions>;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(opts: LogPrunerOptions) {
    this.#opts = { batchSize: DEFAULT_BATCH_SIZE, ...opts };
    this.#log = opts.log.child({ component: 'pruner' });
  }

  start(): void {
    this.#schedule(0);
  }

  /** Ends the schedule; a run in progress stops after its current batch. */
  async stop(): Promise<void> {
    this.#stop.abort();
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One pass: batches until nothing old is left (or another node is at it). */
  async runOnce(): Promise<{ deleted: number; prunedThrough: string }> {
    let deleted = 0;
    let prunedThrough = '0';
    while (!this.#stop.signal.aborted) {
      const batch = await pruneEventBatch(this.#opts.db, this.#opts.retentionMs, this.#opts.batchSize);
      if (!batch.ran) break;
      deleted += batch.deleted;
      prunedThrough = batch.prunedThrough;
      if (batch.deleted < this.#opts.batchSize) break;
      await sleep(PAUSE_BETWEEN_BATCHES_MS, this.#stop.signal);
    }
    return { deleted, prunedThrough };
  }

  #schedule(delay: number): void {
    if (this.#stop.signal.aborted) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#run().finally(() => {
        this.#running = undefined;
        this.#schedule(Math.min(this.#opts.intervalMs, MAX_TIMER_MS));
      });
    }, delay);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    try {
      const { deleted, prunedThrough } = await this.runOnce();
      if (deleted > 0) this.#log.info({ deleted, prunedThrough }, 'pruned old events from the log');
    } catch (err) {
      if (this.#stop.signal.aborted) return;
      // Tried again at the next interval; nothing is half-done (each batch is one statement).
      if (isDatabaseUnavailable(err)) this.#log.warn('pruning the log: database unavailable');
      else this.#log.error({ err }, 'pruning the log failed');
    }
  }
}
