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
  /** Told when the next batch to begin has ended (positioned, or failed). */
  #waiting: Array<() => void> = [];

  constructor(opts: SequencerOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ component: 'sequencer' });
  }

  start(): void {
    this.#schedule(0);
  }

  /**
   * A write of this node committed: position it now, not at the next interval. Resolves when
   * a batch that began after this call has ended, so a mutation can answer once its events
   * are in the log (read your writes); it resolves also when that batch failed (the write
   * stands; its events wait for the next batch), and never rejects.
   */
  kick(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    const ended = new Promise<void>((resolve) => this.#waiting.push(resolve));
    if (this.#running) {
      // The batch in progress may have begun before that commit: one more after it.
      this.#again = true;
    } else {
      this.#schedule(0);
    }
    return ended;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    this.#tell(this.#waiting.splice(0));
  }

  #tell(waiting: Array<() => void>): void {
    for (const resolve of waiting) resolve();
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
    let waiting: Array<() => void> = [];
    let failed = false;
    try {
      do {
        this.#again = false;
        waiting = this.#waiting.splice(0);
        if ((await this.#opts.sequence()) !== null) this.#again = true;
        this.#tell(waiting);
      } while (this.#again && !this.#stopped);
      this.#failures = 0;
    } catch (err) {
      this.#tell(waiting);
      failed = true;
      if (this.#stopped) return;
      // Nothing is half-done: a batch is one transaction. Events wait, still pending.
      next = Math.max(next, backoffDelay(this.#failures++));
      if (isDatabaseUnavailable(err)) this.#log.warn({ retryInMs: Math.round(next) }, 'sequencing events: database unavailable');
      else this.#log.error({ err, retryInMs: Math.round(next) }, 'sequencing events failed');
    }
    // A kick during a failed batch waits out the backoff too: the database may be away.
    this.#schedule(!failed && (this.#again || this.#waiting.length > 0) ? 0 : next);
  }
}
