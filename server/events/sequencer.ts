import { isDatabaseUnavailable } from '../db/errors.ts';
import type { Logger } from '../logger.ts';
import { backoffDelay } from '../retry.ts';

export type SequencerOptions = {
  /** One batch (server/db/event-sequencing.ts): the last position given, or null for none. */
  sequence: () => Promise<string | null>;
  /** How long to wait between looks when nothing has been found for a while (idle). */
  intervalMs: number;
  /**
   * How long to wait between looks while events are flowing: for `busyForMs` after a look
   * that found work no kick had asked for. Shorter than `intervalMs`; each look while flowing
   * is one more query.
   */
  busyIntervalMs: number;
  busyForMs: number;
  /**
   * Reclaims what batches leave behind (the queue's deleted rows): run at most every
   * `vacuumEveryMs` after a batch that found work, beside the batches, never two at once.
   */
  vacuum?: () => Promise<void>;
  vacuumEveryMs?: number;
  log: Logger;
};

/**
 * Sequenced ordering's clock (drizzle/0006_sequenced_log.sql): gives committed events their
 * positions, on every node. It looks for work every `intervalMs` while idle and every
 * `busyIntervalMs` while events nobody kicked for are flowing (a raw SQL write, or another
 * node's, waits for the next look, about half an interval: the delay subscribers see), and at
 * once when this node's own write has committed (`kick`, which the mutation awaits); the
 * node's own writes alone do not quicken the looks, as their kicks already position them. After a batch that found work it waits the
 * busy interval too, rather than looking again at once: commits become visible in groups (one
 * WAL flush each), so a look straight after a batch mostly found nothing, and every look is a
 * query both the node and the database pay for (0.3-0.45 ms of CPU together on a 2-core
 * machine: at 16 writing connections the looks and the listener's reads are most of what the
 * node spends on sequencing). Waiting, each batch takes what a millisecond brought, and under load there are
 * fewer, larger batches, each read once by every node's listener (BENCHMARKS.md,
 * "Sequenced appends").
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
  /** When a batch no kick asked for last found work (performance.now()), or -Infinity. */
  #lastFound = Number.NEGATIVE_INFINITY;
  /** When the last vacuum began (performance.now()), or -Infinity; and the one running. */
  #lastVacuum = Number.NEGATIVE_INFINITY;
  #vacuuming: Promise<void> | undefined;
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
   * A write of this node committed: position it now, not at the next look. Resolves when a
   * batch that began after this call has ended, so a mutation answers once its events are in
   * the log (read your writes, as in commit ordering: a client that subscribes at the live end
   * after its write was answered does not get that write as a new change, and `events.list`
   * right after it shows it). Resolves also when that batch failed (the write stands; its
   * events wait for the next batch), and never rejects. Concurrent writers share batches.
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
    await this.#vacuuming;
    this.#tell(this.#waiting.splice(0));
  }

  #vacuumIfDue(): void {
    const { vacuum, vacuumEveryMs = 1_000 } = this.#opts;
    if (!vacuum || this.#vacuuming || this.#stopped || performance.now() - this.#lastVacuum < vacuumEveryMs) return;
    this.#lastVacuum = performance.now();
    this.#vacuuming = vacuum()
      // Only housekeeping: batches are right without it, and the next one due tries again.
      .catch((err: unknown) => this.#log.warn({ err: String(err) }, 'vacuuming the event queue failed'))
      .finally(() => (this.#vacuuming = undefined));
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
    let waiting: Array<() => void> = [];
    try {
      do {
        this.#again = false;
        waiting = this.#waiting.splice(0);
        if ((await this.#opts.sequence()) !== null) {
          // Only work nobody kicked for (raw SQL writes, other nodes') makes the looks quicken:
          // this node's own writes kick their batches, and looks between them would mostly
          // find nothing, each a query for the node and the database (BENCHMARKS.md, run 12).
          if (waiting.length === 0) this.#lastFound = performance.now();
          this.#vacuumIfDue();
        }
        this.#tell(waiting);
      } while (this.#again && !this.#stopped);
      this.#failures = 0;
    } catch (err) {
      this.#tell(waiting);
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
    if (this.#again || this.#waiting.length > 0) return this.#schedule(0);
    const flowing = performance.now() - this.#lastFound < this.#opts.busyForMs;
    this.#schedule(flowing ? this.#opts.busyIntervalMs : this.#opts.intervalMs);
  }
}
