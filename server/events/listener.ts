/*
 * The change listener: one per server process, one dedicated LISTEN connection.
 *
 *   tRPC / REST mutation ──▶ orders row ──▶ trigger at COMMIT ──▶ order_events row
 *   psql UPDATE ──────────────────┘                                 + NOTIFY order_events, <id>
 *                                                                          │
 *   ┌── this file ─────────────────────────────────────────────────────────┼───┐
 *   │ LISTEN connection ◀──────────────────────────────────────────────────┘   │
 *   │   wake-up (coalesced); also on every (re)connect                         │
 *   │        ▼                                                                 │
 *   │ read order_events after `position`, one query per page ──▶ hub.publish ──┼─▶ subscribers
 *   └──────────────────────────────────────────────────────────────────────────┘
 *
 * The notification only says "look"; the log says what happened. A NOTIFY sent while the
 * connection is down is gone, so after every (re)connect the listener reads the log from
 * where it stopped, and nothing committed meanwhile is lost.
 */
import postgres from 'postgres';
import type { OrderEvent } from '../../shared/orders.ts';
import type { ResumeId } from '../../shared/resume-id.ts';
import { LogGapError } from '../db/events.ts';
import { EVENTS_CHANNEL } from '../../shared/protocol.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { backoffDelay, reconnectBackoffSeconds, sleep } from '../retry.ts';
import { LISTENER_READ_TIME_LIMIT_MS, withTimeLimit } from '../time-limit.ts';
import type { EventHub } from './hub.ts';

export type ListenerState = 'connecting' | 'listening' | 'down' | 'stopped';

export type ListenerOptions = {
  databaseUrl: string;
  hub: EventHub;
  /** The log after a resume id: LogGapError when its event is no longer the one the log holds */
  readAfter: (after: ResumeId, limit: number) => Promise<OrderEvent[]>;
  log: Logger;
  metrics?: Metrics;
  pageSize?: number;
};

/** How the LISTEN connection shows in pg_stat_activity. */
export const LISTENER_APPLICATION_NAME = 'live-orders-listener';


export class ChangeListener {
  #state: ListenerState = 'connecting';
  readonly #hub: EventHub;
  readonly #readAfter: ListenerOptions['readAfter'];
  readonly #log: Logger;
  readonly #metrics: Metrics | undefined;
  readonly #pageSize: number;
  readonly #connection: postgres.Sql;

  #connectionLost = true;
  #reconnecting = false;
  #draining = false;
  #drainAgain = false;
  #drainFailures = 0;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(opts: ListenerOptions) {
    this.#hub = opts.hub;
    this.#readAfter = opts.readAfter;
    this.#log = opts.log.child({ component: 'listener' });
    this.#metrics = opts.metrics;
    this.#pageSize = opts.pageSize ?? 1000;
    // Our own connection rather than sql.listen(): that one gives up for good when the
    // database is down at the moment it re-listens; here the retry loop is ours.
    this.#connection = postgres(opts.databaseUrl, {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      connect_timeout: 3,
      backoff: reconnectBackoffSeconds,
      connection: { application_name: LISTENER_APPLICATION_NAME },
      onnotice: () => {},
      onclose: () => this.#onConnectionLost(),
      // Not in postgres.js's types, but the documented hook sql.listen() itself is built on.
      ...({ onnotify: () => this.#drain() } as object),
    });
  }

  get state(): ListenerState {
    return this.#state;
  }

  #stopped(): boolean {
    return this.#state === 'stopped';
  }

  /** Resolves once LISTEN is in place; the hub's position is the live end to start from. */
  async start(): Promise<void> {
    await this.#listen();
  }

  async stop(): Promise<void> {
    this.#state = 'stopped';
    clearTimeout(this.#retryTimer);
    await this.#connection.end({ timeout: 1 });
  }

  #onConnectionLost(): void {
    if (this.#stopped()) return;
    this.#log.warn('LISTEN connection lost; reconnecting');
    this.#connectionLost = true;
    this.#state = 'down';
    void this.#listen();
  }

  async #listen(): Promise<void> {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    try {
      for (let attempt = 0; this.#connectionLost && !this.#stopped(); attempt++) {
        // A close during the LISTEN below sets this again, and we go round once more.
        this.#connectionLost = false;
        try {
          await this.#connection.unsafe(`LISTEN "${EVENTS_CHANNEL}"`);
          if (this.#connectionLost) continue;
          this.#state = 'listening';
          this.#log.info({ position: this.#hub.position }, 'listening for changes');
          this.#drain();
        } catch (err) {
          this.#connectionLost = true;
          if (!this.#stopped()) this.#state = 'down';
          const delay = backoffDelay(attempt);
          this.#log.warn({ err: String(err), retryInMs: Math.round(delay) }, 'LISTEN failed');
          await sleep(delay);
        }
      }
    } finally {
      this.#reconnecting = false;
    }
  }

  /**
   * Reads everything after the hub's position and publishes it, a page per query. Wake-ups
   * that arrive meanwhile are folded into one more pass, so a burst of 1,000 NOTIFYs costs a
   * handful of queries, not 1,000.
   */
  #drain(): void {
    if (this.#draining) {
      this.#drainAgain = true;
      return;
    }
    this.#draining = true;
    void this.#drainLoop().finally(() => {
      this.#draining = false;
    });
  }

  async #drainLoop(): Promise<void> {
    try {
      do {
        this.#drainAgain = false;
        for (;;) {
          const page = await withTimeLimit(this.#readAfter(this.#hub.resumeId, this.#pageSize), LISTENER_READ_TIME_LIMIT_MS, 'reading the log');
          this.#hub.publish(page);
          this.#metrics?.eventsPublished(page);
          if (page.length < this.#pageSize) break;
        }
      } while (this.#drainAgain && !this.#stopped());
      this.#drainFailures = 0;
    } catch (err) {
      if (this.#stopped()) return;
      if (err instanceof LogGapError) {
        // Events this node never published were pruned (it could not read for longer than
        // EVENT_RETENTION), the log is behind us (a restore), or its history changed (a
        // failover: the event we published last is gone, and new ones may hold its position).
        // Subscribers cannot be served what is gone: the hub sends them to the log, which
        // refuses those whose place is gone too. The hub goes on from the log's head.
        const to = err.reason === 'pruned' ? err.prunedThrough : err.head;
        this.#log.warn({ position: this.#hub.position, to, reason: err.reason }, 'the log cannot go on from our position; subscribers must resync');
        this.#hub.skipTo(to);
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => this.#drain(), 0); // once this pass has ended
        return;
      }
      // The pool could not read; try again shortly, and again on the next (re)connect.
      const delay = backoffDelay(this.#drainFailures++);
      this.#log.warn({ err: String(err), retryInMs: Math.round(delay) }, 'reading the log failed');
      clearTimeout(this.#retryTimer);
      this.#retryTimer = setTimeout(() => this.#drain(), delay);
    }
  }
}
