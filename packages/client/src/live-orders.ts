import { TRPCClientError, type TRPCClient } from '@trpc/client';
import type { AppRouter } from './app-router.ts';
import type { OrderCounts } from '../../../shared/order-counts.ts';
import type { EventFilter, Order, OrderEvent } from '../../../shared/orders.ts';
import { isAfter } from '../../../shared/positions.ts';
import { positionOf } from '../../../shared/resume-id.ts';
import { backoffMs } from './backoff.ts';
import { CatchUp } from './catch-up.ts';
import { LiveCounts } from './live-counts.ts';
import { iterateChanges } from './change-iterator.ts';
import { openChangeStream } from './change-stream.ts';
import { connect, type Connection, type TokenSource, type Transport, type WebSocketConstructor } from './links.ts';
import { Emitter } from './emitter.ts';
import { Lifecycle, type ConnectionState } from './lifecycle.ts';
import { browserOffline, watchNetwork } from './network-watch.ts';
import { OrdersCopy } from './orders-copy.ts';
import { readSnapshot } from './snapshot.ts';

export type { ConnectionState } from './lifecycle.ts';

export type LiveOrdersOptions = {
  /** The server's base URL, `http://host:port`. In a page served by the server: leave out. */
  url?: string;
  /** Sent as `Authorization: Bearer` (HTTP, SSE) or `connectionParams.token` (WebSocket). */
  token?: TokenSource;
  /** Default `'websocket'`. */
  transport?: Transport;
  /** With `transport: 'websocket'`: when no WebSocket can be opened (a proxy blocks them), go on over SSE. */
  fallbackToSse?: boolean;
  /** Applied on the server; ids stay global positions, so resume works with filters. */
  filter?: EventFilter;
  /** Default true: keep a copy of the orders. false: only the changes after `from`. */
  snapshot?: boolean;
  /**
   * Keep the orders per status beside the copy (`counts`, the `counts` event), exact at their
   * `lastEventId`: taken with each snapshot at its position, moved by every change after it.
   * Default: on without a filter; off with one, since the counts need every change and a
   * filtered stream does not carry them: `true` then opens a second, unfiltered stream for
   * them (changes only, no copy). Needs `snapshot`.
   */
  counts?: boolean;
  /** Without a snapshot: start after this position, or a `resumeId` saved earlier; absent or null, at the live end. */
  from?: string | null;
  /** For runtimes without a global WebSocket (Node 20): the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** Delay before reconnect attempt `n` (from 0); default: capped, jittered backoff. */
  retryDelayMs?: (attempt: number) => number;
};

export type ResyncNotice = {
  /** The server's reason: its log can no longer serve the position the client had. */
  reason: string;
  /** The position the client goes on from. */
  lastEventId: string;
};

/** What a LiveOrders tells its listeners. */
export type LiveOrdersEvents = {
  /** Every change once, in log order, after it was applied to the copy. */
  change: OrderEvent;
  /** A snapshot (the first, or a reload) replaced the copy. */
  snapshot: ReadonlyMap<string, Order>;
  state: ConnectionState;
  /** After a reconnect: how many changes were missed and have now been received. */
  'caught-up': number;
  /** The server could not serve the position; the copy was reloaded and goes on from here. */
  resynced: ResyncNotice;
  /** The counts per status moved (or were taken): exact at their `lastEventId`. */
  counts: OrderCounts;
  /** `fatal`: it stopped (a refused token, a bad filter); else it retries by itself. */
  error: { error: Error; fatal: boolean };
};

export type LiveOrders = {
  /** The copy, by order id. Replaced by a new map on every snapshot (see the `snapshot` event). */
  readonly orders: ReadonlyMap<string, Order>;
  readonly state: ConnectionState;
  readonly transport: Transport;
  /** The position of the last change applied (or of the snapshot); null before either. A plain position: the library resumes from the tracked id it keeps itself. */
  readonly lastEventId: string | null;
  /**
   * What the library resumes from: the tracked id of the last change applied (or the
   * snapshot's `resumeId`), an opaque string. Save this rather than `lastEventId` to resume
   * later with `from`: the server then also tells you if that change was lost since (a
   * failover, a restore), instead of going on from its position in another history.
   */
  readonly resumeId: string | null;
  /**
   * The orders per status (all of them, whatever the filter), exact at `counts.lastEventId`;
   * null before the first are read, or with `counts: false`. Without a filter they are exact
   * at the copy's `lastEventId` too: `counts.total` is then `orders.size`.
   */
  readonly counts: OrderCounts | null;
  /** Changes caught up after the last reconnect, once all are in; null before. */
  readonly caughtUp: number | null;
  /** Settles when the first snapshot is complete (without one: when first live); rejects on a fatal error before. */
  readonly ready: Promise<void>;
  /** A typed client for queries and mutations, with the same server and token. */
  readonly api: TRPCClient<AppRouter>;
  on<K extends keyof LiveOrdersEvents>(type: K, listener: (payload: LiveOrdersEvents[K]) => void): () => void;
  /** The changes from now on, as an async iterable that ends on `close()`. */
  changes(): AsyncIterableIterator<OrderEvent>;
  close(): Promise<void>;
};

const FATAL_CODES = new Set(['UNAUTHORIZED', 'FORBIDDEN', 'BAD_REQUEST']);

const errorCode = (err: unknown): string | undefined =>
  err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined;

const toError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));

/**
 * A live, consistent copy of the orders: `orders.list` page by page, then `orders.onChange`
 * from the first page's `lastEventId`, every change applied by order version. It resumes
 * after any drop from the last position it applied, and reloads the snapshot when the server
 * says it cannot serve that position (`PRECONDITION_FAILED`).
 */
export function createLiveOrders(options: LiveOrdersOptions = {}): LiveOrders {
  return new LiveOrdersClient(options);
}

class LiveOrdersClient implements LiveOrders {
  readonly ready: Promise<void>;
  #options: Required<Pick<LiveOrdersOptions, 'retryDelayMs' | 'snapshot'>> & LiveOrdersOptions;
  #events = new Emitter<LiveOrdersEvents>();
  /** Told once, on stopping; `state` may already have read `offline` (the browser's network). */
  #stopping = new Emitter<{ stopped: undefined }>();
  #life: Lifecycle;
  #transport: Transport;
  #connection: Connection;
  #copy = new OrdersCopy();
  /** The copy being read while a snapshot loads; events go here until it replaces `#copy`. */
  #loading: OrdersCopy | null = null;
  #loaded = false;
  /**
   * Where to resume: the tracked id of the last change applied (or the snapshot's `resumeId`),
   * kept as the server gave it. It may name the event as well as its position, so that the
   * server can tell us when that event is gone (a failover, a restore); positions for
   * comparing are taken from it by `positionOf`, nothing else reads into it.
   */
  #position: string | null = null;
  #everLive = false;
  #startedOverWebSocket = false;
  #probingForSse = false;
  /** Set from an UNAUTHORIZED stream until the next start: a second one in a row is fatal. */
  #renewing = false;
  /** Set while the snapshot is reloaded after PRECONDITION_FAILED: said once it is in. */
  #resyncReason: string | null = null;
  #attempt = 0;
  /** With the `counts` option (on by default without a filter). */
  #counts: LiveCounts | null;
  #catchUp: CatchUp | null = null;
  #caughtUp: number | null = null;
  #unsubscribe = () => {};
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #settle: { resolve(): void; reject(err: Error): void };
  #stopWatchingNetwork: () => void;

  constructor(options: LiveOrdersOptions) {
    this.#options = { retryDelayMs: backoffMs, snapshot: true, ...options };
    this.#life = new Lifecycle(browserOffline, (state) => this.#events.emit('state', state));
    this.#transport = options.transport ?? 'websocket';
    this.#connection = this.#connect();
    let settle!: { resolve(): void; reject(err: Error): void };
    this.ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.ready.catch(() => {}); // a caller that never awaits it must not get an unhandled rejection
    this.#settle = settle;
    this.#stopWatchingNetwork = watchNetwork(() => this.#life.networkChanged());
    this.#counts = this.#keepCounts();
    this.#start(this.#life.run);
  }

  get orders(): ReadonlyMap<string, Order> {
    return this.#copy.orders;
  }
  get state() {
    return this.#life.state;
  }
  get transport() {
    return this.#transport;
  }
  get lastEventId() {
    return this.#position === null ? null : positionOf(this.#position);
  }
  get resumeId() {
    return this.#position;
  }
  get caughtUp() {
    return this.#caughtUp;
  }
  get counts() {
    return this.#counts?.counts ?? null;
  }
  get api() {
    return this.#connection.api;
  }

  on<K extends keyof LiveOrdersEvents>(type: K, listener: (payload: LiveOrdersEvents[K]) => void): () => void {
    return this.#events.on(type, listener);
  }

  changes(): AsyncIterableIterator<OrderEvent> {
    const life = this.#life;
    return iterateChanges({
      onChange: (listener) => this.on('change', listener),
      onStopped: (listener) => this.#stopping.on('stopped', listener),
      get stopped() {
        return life.phase === 'stopped';
      },
    });
  }

  async close(): Promise<void> {
    if (this.#life.phase === 'stopped') return;
    this.#stop();
    this.#settle.reject(new Error('closed before the snapshot was loaded'));
    await Promise.all([this.#connection.close(), this.#counts?.stop()]);
  }

  #connect(): Connection {
    return connect({
      url: this.#options.url ?? '',
      token: this.#options.token,
      transport: this.#transport,
      WebSocket: this.#options.WebSocket,
      retryDelayMs: this.#options.retryDelayMs,
    });
  }

  /** "Where is the log's head": the position a snapshot read now would start from. */
  async #head(): Promise<{ lastEventId: string; resumeId: string }> {
    return this.api.events.head.query();
  }

  #start(run: number) {
    if (this.#options.snapshot) void this.#loadSnapshot(run);
    else void this.#follow(run);
  }

  /**
   * Changes only. "The live end" is pinned to the log's head as read here, so `lastEventId`
   * is known from the start and a client that saves it resumes without a gap even if no
   * change came meanwhile.
   */
  async #follow(run: number) {
    let from = this.#position ?? this.#options.from ?? null;
    if (from === null) {
      try {
        from = (await this.#head()).resumeId;
      } catch (err) {
        if (this.#life.isCurrent(run)) this.#failed(err);
        return;
      }
      if (!this.#life.isCurrent(run)) return;
    }
    this.#position = from;
    this.#subscribe(run, from);
  }

  /** The snapshot, with the subscription started from its first page (see `readSnapshot`). */
  async #loadSnapshot(run: number) {
    let fresh: OrdersCopy | null;
    try {
      fresh = await readSnapshot(this.api, this.#options.filter, () => this.#life.isCurrent(run), (copy, resumeId) => {
        this.#loading = copy;
        this.#position = resumeId;
        this.#subscribe(run, resumeId);
        this.#counts?.takeAt(resumeId);
      });
    } catch (err) {
      if (this.#life.isCurrent(run)) this.#failed(err);
      return;
    }
    if (!fresh) return;
    this.#copy = fresh;
    this.#loading = null;
    this.#loaded = true;
    this.#events.emit('snapshot', fresh.orders);
    this.#settle.resolve();
    const reason = this.#resyncReason;
    this.#resyncReason = null;
    if (reason !== null) this.#events.emit('resynced', { reason, lastEventId: this.lastEventId ?? '0' });
  }

  /**
   * The counts need every change: a filtered copy's are off unless asked for, and then
   * follow an unfiltered changes-only stream of their own.
   */
  #keepCounts(): LiveCounts | null {
    const filtered = this.#options.filter !== undefined;
    if (!(this.#options.counts ?? !filtered)) return null;
    return new LiveCounts({
      api: () => this.api,
      changed: (counts) => this.#events.emit('counts', counts),
      failed: (err) => this.#events.emit('error', { error: toError(err), fatal: false }),
      retryDelayMs: () => this.#options.retryDelayMs(0),
      ownPosition: () => this.lastEventId,
      openUnfiltered: filtered
        ? (from) => createLiveOrders({ ...this.#options, filter: undefined, snapshot: false, counts: false, from })
        : undefined,
    });
  }

  #subscribe(run: number, from: string | null) {
    this.#unsubscribe();
    this.#unsubscribe = openChangeStream(this.api, from, this.#options.filter, () => this.#life.isCurrent(run), {
      started: () => this.#started(),
      dropped: (error) => this.#dropped(error),
      change: (id, event) => this.#receive(id, event),
      failed: (err) => this.#failed(err),
    });
  }

  #receive(id: string, event: OrderEvent) {
    // A resumed stream starts after the position sent; this guards the seam all the same.
    if (this.#position !== null && !isAfter(id, this.#position)) return;
    this.#position = id;
    // Without a snapshot there is no copy to keep: changes only.
    if (this.#options.snapshot) (this.#loading ?? this.#copy).apply(event);
    this.#counts?.ownChange(event);
    this.#events.emit('change', event);
    if (this.#catchUp?.received(id)) this.#finishCatchUp();
  }

  #started() {
    if (this.#transport === 'websocket') this.#startedOverWebSocket = true;
    this.#attempt = 0;
    this.#renewing = false;
    const reconnected = this.#everLive;
    this.#everLive = true;
    this.#life.moveTo('live');
    if (!this.#options.snapshot) this.#settle.resolve();
    if (reconnected && this.#catchUp) void this.#readHead(this.#catchUp);
  }

  #dropped(error: unknown) {
    if (
      this.#transport === 'websocket' &&
      this.#options.fallbackToSse &&
      !this.#startedOverWebSocket &&
      error
    ) {
      return void this.#considerSse(this.#life.run);
    }
    if (this.#life.moveTo('reconnecting')) this.#beginCatchUp();
  }

  /**
   * The WebSocket failed before it ever carried a subscription. Only if plain HTTP gets
   * through is that a WebSocket problem (a proxy that refuses them) rather than a server
   * that is down, which the WebSocket's own retries will outlast.
   */
  async #considerSse(run: number) {
    if (this.#probingForSse) return;
    this.#probingForSse = true;
    try {
      await this.#head();
    } catch {
      return;
    } finally {
      this.#probingForSse = false;
    }
    if (this.#life.isCurrent(run) && this.#transport === 'websocket' && !this.#startedOverWebSocket) this.#fallBackToSse();
  }

  #fallBackToSse() {
    const next = this.#abandon();
    const old = this.#connection;
    this.#transport = 'sse';
    this.#connection = this.#connect();
    void old.close();
    this.#restart(next);
  }

  #failed(err: unknown) {
    const code = errorCode(err);
    if (code === 'PRECONDITION_FAILED') return void this.#resync(toError(err).message);
    if (code === 'UNAUTHORIZED' && this.#mayRenewCredentials()) return void this.#renewCredentials(toError(err));
    if (code && FATAL_CODES.has(code)) {
      this.#stop();
      this.#events.emit('error', { error: toError(err), fatal: true });
      this.#settle.reject(toError(err));
      return;
    }
    const next = this.#abandon();
    this.#events.emit('error', { error: toError(err), fatal: false });
    if (this.#life.moveTo('reconnecting')) this.#beginCatchUp();
    this.#retryTimer = setTimeout(() => void this.#retry(next), this.#options.retryDelayMs(this.#attempt++));
  }

  /**
   * A stream that was live ended UNAUTHORIZED: the server ends streams when the token (a JWT's
   * expiry) or the session behind them ends. A token function (or the page's session cookie)
   * may have a fresh one; a fixed token string cannot, and a refusal at the first try is not
   * a renewal either.
   */
  #mayRenewCredentials(): boolean {
    return this.#everLive && !this.#renewing && typeof this.#options.token !== 'string';
  }

  /**
   * Asks for a fresh token (a new connection reads it: a WebSocket sends its token once, when
   * it opens) and resumes from the last position applied, so nothing is missed or repeated.
   * If the server refuses the fresh one too, that refusal is fatal (#failed).
   */
  async #renewCredentials(err: Error) {
    this.#renewing = true;
    const next = this.#abandon();
    this.#events.emit('error', { error: err, fatal: false });
    if (this.#life.moveTo('reconnecting')) this.#beginCatchUp();
    const old = this.#connection;
    this.#connection = this.#connect();
    void old.close();
    try {
      // Proves the fresh token before subscribing (an SSE refusal carries no code).
      await this.api.orders.list.query({ limit: 1 });
    } catch (error) {
      if (this.#life.isCurrent(next)) this.#failed(error);
      return;
    }
    if (!this.#life.isCurrent(next)) return;
    if (this.#loaded || !this.#options.snapshot) this.#subscribe(next, this.#position);
    else this.#restart(next);
  }

  /**
   * Before subscribing again, one query: it proves the server is back and still takes the
   * token (an SSE stream refused at the HTTP level carries no error code).
   */
  async #retry(run: number) {
    if (!this.#life.isCurrent(run)) return;
    if (!this.#loaded && this.#options.snapshot) return this.#restart(run);
    try {
      await this.#head();
    } catch (err) {
      if (this.#life.isCurrent(run)) this.#failed(err);
      return;
    }
    if (this.#life.isCurrent(run)) this.#restart(run);
  }

  #restart(run: number) {
    this.#loading = null;
    if (!this.#loaded && this.#options.snapshot) this.#position = null;
    this.#start(run);
  }

  /**
   * The server cannot serve our position without a gap (pruned, or ahead of its log, as
   * after a restore). Whatever fell in the gap is unknown, so the copy is read afresh.
   */
  async #resync(reason: string) {
    const next = this.#abandon();
    this.#catchUp?.dispose();
    this.#catchUp = null;
    if (this.#options.snapshot) {
      this.#position = null;
      this.#loaded = false;
      this.#resyncReason = reason;
      void this.#loadSnapshot(next);
      return;
    }
    // Changes only: go on from the log's end; what fell in the gap is gone.
    try {
      const { lastEventId, resumeId } = await this.#head();
      if (!this.#life.isCurrent(next)) return;
      this.#position = resumeId;
      this.#events.emit('resynced', { reason, lastEventId });
      this.#subscribe(next, resumeId);
    } catch (err) {
      if (this.#life.isCurrent(next)) this.#failed(err);
    }
  }

  #beginCatchUp() {
    if (this.#catchUp) return this.#catchUp.dropped();
    if (this.#position === null || (!this.#loaded && this.#options.snapshot)) return;
    this.#catchUp = new CatchUp(this.#position, this.#options.filter !== undefined, () => this.#finishCatchUp());
    this.#caughtUp = null;
  }

  /** The log's head right after reconnecting: how far the catch-up goes. */
  async #readHead(catchUp: CatchUp) {
    try {
      const { lastEventId } = await this.#head();
      if (catchUp === this.#catchUp && catchUp.headRead(lastEventId, this.#position)) this.#finishCatchUp();
    } catch {
      // The connection went again; the next reconnect reads the head anew.
    }
  }

  #finishCatchUp() {
    const catchUp = this.#catchUp;
    if (!catchUp) return;
    catchUp.dispose();
    this.#catchUp = null;
    this.#caughtUp = catchUp.count;
    this.#events.emit('caught-up', catchUp.count);
  }

  /** Drops the subscription (and any snapshot in progress) without stopping for good. */
  #abandon(): number {
    const next = this.#life.abandon();
    clearTimeout(this.#retryTimer);
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = () => {};
    unsubscribe();
    return next;
  }

  #stop() {
    this.#abandon();
    void this.#counts?.stop();
    this.#catchUp?.dispose();
    this.#catchUp = null;
    this.#stopWatchingNetwork();
    this.#life.moveTo('stopped');
    this.#stopping.emit('stopped', undefined);
  }
}
