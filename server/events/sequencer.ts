import { isDatabaseUnavailable } from '../db/errors.ts';
import type { Logger } from '../logger.ts';
import { backoffDelay } from '../retry.ts';

export type SequencerOptions = {
  /** One batch (server/db/event-sequencing.ts): the last position given, or null for none. */
  sequence: () => Promise<string | null>;
  /** How long to wait between looks when the last one found nothing. */
  intervalMs: number;
  log: Logger;
};

/**
 * Sequenced ordering's clock (drizzle/0006_sequenced_log.sql): gives committed events their
 * positions, on every node. It runs a batch every `intervalMs`, at once when this node's own
 * write has committed (`kick`), and again straight after a batch that found work, so under
 * load batches follow each other back to back and each takes everything committed meanwhile.
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

  constructor(opts: SequencerOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ component: 'sequencer' });
  }

  start(): void {
    this.#schedule(0);
  }

  /** A write of this node committed: position it now, not at the next interval. */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      // The batch in progress may have begun before that commit: one more after it.
      this.#again = true;
      return;
    }
    this.#schedule(0);
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
    let next = this.#opts.intervalMs;
    try {
      do {
        this.#again = false;
        if ((await this.#opts.sequence()) !== null) this.#again = true;
      } while (this.#again && !this.#stopped);
      this.#failures = 0;
    } catch (err) {
      this.#again = false;
      if (this.#stopped) return;
      // Nothing is half-done: a batch is one transaction. Events wait, still pending.
      next = Math.max(next, backoffDelay(this.#failures++));
      if (isDatabaseUnavailable(err)) this.#log.warn({ retryInMs: Math.round(next) }, 'sequencing events: database unavailable');
      else this.#log.error({ err, retryInMs: Math.round(next) }, 'sequencing events failed');
    }
    this.#schedule(this.#again ? 0 : next);
  }
}
