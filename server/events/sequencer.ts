import { isDatabaseUnavailable } from '../db/errors.ts';
import type { Logger } from '../logger.ts';
import { backoffDelay } from '../retry.ts';

export type SequencerOptions = {
  /** One batch (server/db/event-sequencing.ts): the last position given, or null for none. */
  sequence: () => Promise<string | null>;
  /** How long to wait between looks when nothing has been found for a while (idle). */
  intervalMs: number;
  /**
   * How long to wait between looks while events are flowing: for `busyForMs` after a batch
   * that found work. Shorter than `intervalMs`; each look while flowing is one more query.
   */
  busyIntervalMs: number;
  busyForMs: number;
  log: Logger;
};

/**
 * Sequenced ordering's clock (drizzle/0006_sequenced_log.sql): gives committed events their
 * positions, on every node. It looks for work every `intervalMs` while idle and every
 * `busyIntervalMs` while events are flowing (a raw SQL write waits for the next look, about
 * half an interval: the delay subscribers see), at once when this node's own write has
 * committed (`kick`), and again straight after a batch that found work, so under load
 * batches follow each other back to back and each takes everything committed meanwhile.
 * Nodes need no leader: the head row's lock lets one batch run at a time, and a batch that
 * finds nothing takes no lock.
 */
export class Sequencer {
  readonly #opts: SequencerOptions;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #failures = 0;
  #stopped = false;
  /** When a batch last found work (performance.now()), or -Infinity. */
  #lastFound = Number.NEGATIVE_INFINITY;

  constructor(opts: SequencerOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ component: 'sequencer' });
  }

  start(): void {
    this.#schedule(0);
  }

  /**
   * A write of this node committed: start a batch now, not at the next look. The caller does
   * not wait for it: the contract promises events in commit order, not that a mutation's
   * answer comes after its event is positioned, and waiting cost a batch per write.
   */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      // The batch in progress may have begun before that commit: one more after it.
      this.#again = true;
    } else {
      this.#schedule(0);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(delay: number): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#run().finally(() => (this.#running = undefined));
    }, delay);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    try {
      do {
        this.#again = false;
        if ((await this.#opts.sequence()) !== null) {
          this.#again = true;
          this.#lastFound = performance.now();
        }
      } while (this.#again && !this.#stopped);
      this.#failures = 0;
    } catch (err) {
      if (this.#stopped) return;
      // Nothing is half-done: a batch is one transaction. Events wait, still pending.
      const retryInMs = Math.max(this.#opts.intervalMs, backoffDelay(this.#failures++));
      if (isDatabaseUnavailable(err)) this.#log.warn({ retryInMs: Math.round(retryInMs) }, 'sequencing events: database unavailable');
      else this.#log.error({ err, retryInMs: Math.round(retryInMs) }, 'sequencing events failed');
      // A kick during a failed batch waits out the backoff too: the database may be away.
      this.#schedule(retryInMs);
      return;
    }
    // Stopped: #schedule does nothing.
    if (this.#again) return this.#schedule(0);
    const flowing = performance.now() - this.#lastFound < this.#opts.busyForMs;
    this.#schedule(flowing ? this.#opts.busyIntervalMs : this.#opts.intervalMs);
  }
}
