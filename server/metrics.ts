import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Transport } from '../shared/protocol.ts';

export type { Transport };

/** What the metrics read at scrape time instead of being told on every change. */
export type MetricsSources = {
  websocketConnections(): number;
  /** the last position this node's listener has published */
  logPosition(): string;
  databaseUp(): Promise<boolean>;
  /** creates queued behind a group insert in flight (db/create-batcher.ts) */
  createsWaiting(): number;
};

/**
 * prom-client's defaults that `promtool check metrics` rejects (exit 3): gauges whose names
 * end in `_total`, which Prometheus reserves for counters. What they show (handles and
 * requests keeping the event loop alive) is not worth a lint failure for every user.
 */
const REJECTED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

// Request durations from 1 ms to 10 s; event delays from 1 ms to a minute (a held-back listener).
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DELAY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
// Creates per group insert: 1 when idle, about the number of concurrent callers under load.
const GROUP_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 1000];

/**
 * Every figure `/metrics` shows, in its own registry (so several servers in one process, as
 * in the tests, do not mix). Counting happens at a few named points, each one call:
 *   listener ── eventsPublished ──▶ hub ── subscriberOverflowed
 *   subscription (its EventStream, whichever transport drains it) ── subscriptionOpened/Closed, eventsDelivered ──▶ client
 *   HTTP and tRPC ── requestObserved / procedureObserved
 * Everything else (connections, position, database) is read when scraped.
 */
export class Metrics {
  readonly registry = new Registry();
  #sources: MetricsSources | undefined;

  readonly #subscriptions: Gauge<'transport'>;
  readonly #published: Counter;
  /** Plain numbers, added to the counter when scraped: see eventsDelivered. */
  readonly #delivered: Record<Transport, number> = { websocket: 0, sse: 0 };
  readonly #overflows: Counter;
  readonly #authRefusals: Counter;
  readonly #publishDelay: Histogram;
  readonly #requests: Histogram<'route' | 'method' | 'status'>;
  readonly #procedures: Histogram<'procedure' | 'type' | 'transport' | 'code'>;
  readonly #createGroups: Histogram;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    for (const name of REJECTED_DEFAULTS) this.registry.removeSingleMetric(name);

    const sources = () => this.#sources;
    new Gauge({
      name: 'live_orders_websocket_connections',
      help: 'Open WebSockets on this node.',
      registers,
      collect() {
        this.set(sources()?.websocketConnections() ?? 0);
      },
    });
    this.#subscriptions = new Gauge({
      name: 'live_orders_subscriptions',
      help: 'Open orders.onChange subscriptions.',
      labelNames: ['transport'],
      registers,
    });
    // Both transports show from the start, at 0, rather than appearing with their first use.
    this.#subscriptions.set({ transport: 'websocket' }, 0);
    this.#subscriptions.set({ transport: 'sse' }, 0);
    this.#published = new Counter({
      name: 'live_orders_events_published_total',
      help: "Events read from the log by this node's listener.",
      registers,
    });
    const delivered = this.#delivered;
    const reported: Record<Transport, number> = { websocket: 0, sse: 0 };
    new Counter({
      name: 'live_orders_events_delivered_total',
      help: 'Events sent to subscribers, one per subscriber per event.',
      labelNames: ['transport'],
      registers,
      collect() {
        for (const transport of ['websocket', 'sse'] as const) {
          this.inc({ transport }, delivered[transport] - reported[transport]);
          reported[transport] = delivered[transport];
        }
      },
    });
    new Gauge({
      name: 'live_orders_log_position',
      help: "The last position this node's listener has published.",
      registers,
      collect() {
        const position = sources()?.logPosition();
        if (position !== undefined) this.set(Number(position));
      },
    });
    this.#publishDelay = new Histogram({
      name: 'live_orders_publish_delay_seconds',
      help: "From an event's time to its publication by this node.",
      buckets: DELAY_BUCKETS,
      registers,
    });
    this.#authRefusals = new Counter({
      name: 'live_orders_authentication_refusals_total',
      help: 'Credentials refused (a token, a JWT, a session cookie), by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.#overflows = new Counter({
      name: 'live_orders_subscriber_overflows_total',
      help: 'Times a slow subscriber fell back to reading the log.',
      registers,
    });
    new Gauge({
      name: 'live_orders_database_up',
      help: 'Whether the database answers (1) or not (0).',
      registers,
      async collect() {
        const source = sources();
        this.set(source && (await source.databaseUp()) ? 1 : 0);
      },
    });
    this.#requests = new Histogram({
      name: 'live_orders_http_request_duration_seconds',
      help: 'HTTP requests by route (tRPC requests as /trpc), method and status.',
      labelNames: ['route', 'method', 'status'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.#procedures = new Histogram({
      name: 'live_orders_procedure_duration_seconds',
      help: 'tRPC queries and mutations by procedure, over HTTP and WebSocket; code is OK or the tRPC error code.',
      labelNames: ['procedure', 'type', 'transport', 'code'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.#createGroups = new Histogram({
      name: 'live_orders_create_group_size',
      help: 'Creates sent together as one insert and transaction (group commit of orders.create).',
      buckets: GROUP_SIZE_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'live_orders_creates_waiting',
      help: 'Creates queued behind a group insert in flight, to go as the next group.',
      registers,
      collect() {
        this.set(sources()?.createsWaiting() ?? 0);
      },
    });
  }

  /** Where the scrape-time figures come from; set once the server is up. */
  observe(sources: MetricsSources): void {
    this.#sources = sources;
  }

  /** The listener handed a page of the log to the hub. */
  eventsPublished(events: readonly { at: string }[]): void {
    if (events.length === 0) return;
    this.#published.inc(events.length);
    const now = Date.now();
    for (const e of events) this.#publishDelay.observe(Math.max(0, now - Date.parse(e.at)) / 1000);
  }

  /**
   * Called for every subscriber of every event, so it only adds to a number: a prom-client
   * labelled increment costs ~0.7 µs, which at 1,000 subscribers is most of a millisecond per
   * event. The counter catches up when scraped.
   */
  eventsDelivered(transport: Transport, count = 1): void {
    this.#delivered[transport] += count;
  }

  subscriptionOpened(transport: Transport): void {
    this.#subscriptions.inc({ transport });
  }

  subscriptionClosed(transport: Transport): void {
    this.#subscriptions.dec({ transport });
  }

  /** A credential was refused; `reason` is one of REFUSAL_REASONS (server/auth/refusal.ts). */
  authenticationRefused(reason: string): void {
    this.#authRefusals.inc({ reason });
  }

  subscriberOverflowed(): void {
    this.#overflows.inc();
  }

  requestObserved(route: string, method: string, status: number, seconds: number): void {
    this.#requests.observe({ route, method, status: String(status) }, seconds);
  }

  procedureObserved(procedure: string, type: string, transport: 'http' | Transport, code: string, seconds: number): void {
    this.#procedures.observe({ procedure, type, transport, code }, seconds);
  }

  /** A group of creates was sent as one insert. */
  createGroupSent(size: number): void {
    this.#createGroups.observe(size);
  }

  /** The Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
