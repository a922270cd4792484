import type { Database } from '../db/client.ts';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { storeCountBlocks } from '../db/order-count-blocks.ts';
import { timeTravelBounds } from '../db/time-travel.ts';
import type { Logger } from '../logger.ts';
import { sleep } from '../retry.ts';

export type CountBlockFillerOptions = {
  db: Database;
  log: Logger;
  /** how often to look for blocks the log has passed and nobody stored yet */
  intervalMs?: number;
};

const DEFAULT_INTERVAL_MS = 60_000;
// The first look waits for start-up to settle; a look stores a few blocks per statement (about
// 30 ms of database time each) with a pause between, so it never crowds out other work.
const FIRST_LOOK_MS = 5_000;
const BLOCKS_PER_STATEMENT = 5;
const PAUSE_BETWEEN_STATEMENTS_MS = 50;

/**
 * Stores, in the background, the blocks of count moves (server/db/order-count-blocks.ts) of
 * the log kept so far, so that `orders.counts({ asOf })` at a depth nobody asked for yet does
 * not store them itself first (seconds for a log of a million events). Every node runs one;
 * what two store at once is stored once (the statement's ON CONFLICT). Writers pay nothing.
 */
export class CountBlockFiller {
  readonly #db: Database;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #stop = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(opts: CountBlockFillerOptions) {
    this.#db = opts.db;
    this.#log = opts.log.child({ component: 'count-blocks' });
    this.#intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
  }

  start(): void {
    this.#schedule(FIRST_LOOK_MS);
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One look: stores missing blocks until none is left (or it is stopped). */
  async runOnce(): Promise<number> {
    let stored = 0;
    while (!this.#stop.signal.aborted) {
      const { floor, last } = await timeTravelBounds(this.#db);
      const batch = await storeCountBlocks(this.#db, floor, last, { limit: BLOCKS_PER_STATEMENT });
      stored += batch;
      if (batch < BLOCKS_PER_STATEMENT) break;
      await sleep(PAUSE_BETWEEN_STATEMENTS_MS, this.#stop.signal);
    }
    return stored;
  }

  #schedule(delay: number): void {
    if (this.#stop.signal.aborted) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#run().finally(() => {
        this.#running = undefined;
        this.#schedule(this.#intervalMs);
      });
    }, delay);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    try {
      const stored = await this.runOnce();
      if (stored > 0) this.#log.debug({ stored }, 'stored blocks of count moves');
    } catch (err) {
      if (this.#stop.signal.aborted) return;
      // Tried again at the next look; a block is one row, stored whole or not at all.
      if (isDatabaseUnavailable(err)) this.#log.warn('storing blocks of count moves: database unavailable');
      else this.#log.error({ err }, 'storing blocks of count moves failed');
    }
  }
}
