import { TRPCClientError, type TRPCClient } from '@trpc/client';
import type { AppRouter } from '../server/routers/app.ts';
import type { EventFilter, Order, OrderEvent } from '../shared/orders.ts';
import { MAX_PAGE_SIZE } from '../shared/protocol.ts';
import { backoffMs } from './backoff.ts';
import { CatchUp } from './catch-up.ts';
import { connect, type Connection, type TokenSource, type Transport, type WebSocketConstructor } from './links.ts';
import { OrdersCopy } from './orders-copy.ts';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline';

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
  /** Without a snapshot: start after this position; absent or null, at the live end. */
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
  /** `fatal`: it stopped (a refused token, a bad filter); else it retries by itself. */
  error: { error: Error; fatal: boolean };
};

export type LiveOrders = {
  /** The copy, by order id. Replaced by a new map on every snapshot (see the `snapshot` event). */
  readonly orders: ReadonlyMap<string, Order>;
  readonly state: ConnectionState;
  readonly transport: Transport;
  /** The position of the last change applied (or of the snapshot); null before either. */
  readonly lastEventId: string | null;
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

type Phase = 'connecting' | 'live' | 'reconnecting' | 'stopped';

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
  #transport: Transport;
  #connection: Connection;
  #copy = new OrdersCopy();
  /** The copy being read while a snapshot loads; events go here until it replaces `#copy`. */
  #loading: OrdersCopy | null = null;
  #loaded = false;
  #position: string | null = null;
  #phase: Phase = 'connecting';
  #state: ConnectionState = 'connecting';
  #everLive = false;
  #startedOverWebSocket = false;
  #probingForSse = false;
  /** Set from an UNAUTHORIZED stream until the next start: a second one in a row is fatal. */
  #renewing = false;
  /** Set while the snapshot is reloaded after PRECONDITION_FAILED: said once it is in. */
  #resyncReason: string | null = null;
  #attempt = 0;
  #catchUp: CatchUp | null = null;
  #caughtUp: number | null = null;
  /** Bumped whenever the subscription or the snapshot in progress is abandoned. */
  #run = 0;
  #unsubscribe = () => {};
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #listeners = new Map<keyof LiveOrdersEvents, Set<(payload: never) => void>>();
  #settle: { resolve(): void; reject(err: Error): void };
  #stopWatchingNetwork = () => {};

  constructor(options: LiveOrdersOptions) {
    this.#options = { retryDelayMs: backoffMs, snapshot: true, ...options };
    this.#transport = options.transport ?? 'websocket';
    this.#connection = this.#connect();
    let settle!: { resolve(): void; reject(err: Error): void };
    this.ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.ready.catch(() => {}); // a caller that never awaits it must not get an unhandled rejection
    this.#settle = settle;
    this.#watchNetwork();
    this.#start(this.#run);
  }

  get orders(): ReadonlyMap<string, Order> {
    return this.#copy.orders;
  }
  get state() {
    return this.#state;
  }
  get transport() {
    return this.#transport;
  }
  get lastEventId() {
    return this.#position;
  }
  get caughtUp() {
    return this.#caughtUp;
  }
  get api() {
    return this.#connection.api;
  }

  on<K extends keyof LiveOrdersEvents>(type: K, listener: (payload: LiveOrdersEvents[K]) => void): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  changes(): AsyncIterableIterator<OrderEvent> {
    const queue: OrderEvent[] = [];
    let wake: (() => void) | null = null;
    let ended = false;
    const offChange = this.on('change', (event) => {
      queue.push(event);
      wake?.();
    });
    const offState = this.on('state', () => {
      if (this.#phase === 'stopped') wake?.();
    });
    const end = () => {
      ended = true;
      offChange();
      offState();
    };
    const iterator: AsyncIterableIterator<OrderEvent> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        for (;;) {
          if (queue.length) return { value: queue.shift()!, done: false };
          if (ended || this.#phase === 'stopped') {
            end();
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      },
      return: async () => {
        end();
        return { value: undefined, done: true };
      },
    };
    return iterator;
  }

  async close(): Promise<void> {
    if (this.#phase === 'stopped') return;
    this.#stop();
    this.#settle.reject(new Error('closed before the snapshot was loaded'));
    await this.#connection.close();
  }

  #emit<K extends keyof LiveOrdersEvents>(type: K, payload: LiveOrdersEvents[K]) {
    for (const listener of this.#listeners.get(type) ?? []) {
      try {
        (listener as (p: LiveOrdersEvents[K]) => void)(payload);
      } catch (err) {
        // A listener's bug must not leave the copy half-updated; it is reported, not swallowed.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
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
        from = (await this.api.orders.list.query({ limit: 1 })).lastEventId;
      } catch (err) {
        if (run === this.#run) this.#failed(err);
        return;
      }
      if (run !== this.#run) return;
    }
    this.#position = from;
    this.#subscribe(run, from);
  }

  /**
   * Reads the snapshot into a fresh copy. The subscription starts right after the first
   * page, from its `lastEventId`, so no change falls between; later pages are newer
   * snapshots, and merging by version keeps the copy right whatever order things arrive in.
   */
  async #loadSnapshot(run: number) {
    const { status, orderId } = this.#options.filter ?? {};
    const keep = (rows: Order[]) => (orderId === undefined ? rows : rows.filter((o) => o.id === orderId));
    const fresh = new OrdersCopy();
    try {
      const first = await this.api.orders.list.query({ limit: MAX_PAGE_SIZE, status });
      if (run !== this.#run) return;
      fresh.mergePage(keep(first.orders));
      this.#loading = fresh;
      this.#position = first.lastEventId;
      this.#subscribe(run, first.lastEventId);
      for (let cursor = first.nextCursor; cursor; ) {
        const page = await this.api.orders.list.query({ limit: MAX_PAGE_SIZE, status, cursor });
        if (run !== this.#run) return;
        fresh.mergePage(keep(page.orders));
        cursor = page.nextCursor;
      }
    } catch (err) {
      if (run === this.#run) this.#failed(err);
      return;
    }
    fresh.snapshotComplete();
    this.#copy = fresh;
    this.#loading = null;
    this.#loaded = true;
    this.#emit('snapshot', fresh.orders);
    this.#settle.resolve();
    const reason = this.#resyncReason;
    this.#resyncReason = null;
    if (reason !== null) this.#emit('resynced', { reason, lastEventId: this.#position ?? '0' });
  }

  #subscribe(run: number, from: string | null) {
    this.#unsubscribe();
    const { filter } = this.#options;
    const subscription = this.api.orders.onChange.subscribe(
      { lastEventId: from, ...filter },
      {
        onStarted: () => {
          if (run === this.#run) this.#started();
        },
        onConnectionStateChange: (state) => {
          if (run === this.#run && state.state === 'connecting') this.#dropped(state.error);
        },
        onData: ({ id, data }) => {
          if (run === this.#run) this.#receive(id, data);
        },
        onError: (err) => {
          if (run === this.#run) this.#failed(err);
        },
        // The server never ends the stream on its own; if it does, resume like after a drop.
        onComplete: () => {
          if (run === this.#run) this.#failed(new Error('the server ended the subscription'));
        },
      },
    );
    this.#unsubscribe = () => subscription.unsubscribe();
  }

  #receive(id: string, event: OrderEvent) {
    // A resumed stream starts after the position sent; this guards the seam all the same.
    if (this.#position !== null && BigInt(id) <= BigInt(this.#position)) return;
    this.#position = id;
    // Without a snapshot there is no copy to keep: changes only.
    if (this.#options.snapshot) (this.#loading ?? this.#copy).apply(event);
    this.#emit('change', event);
    if (this.#catchUp?.received(id)) this.#finishCatchUp();
  }

  /** The server acknowledged the subscription: events flow from here. */
  #started() {
    if (this.#transport === 'websocket') this.#startedOverWebSocket = true;
    this.#attempt = 0;
    this.#renewing = false;
    const reconnected = this.#everLive;
    this.#everLive = true;
    this.#setPhase('live');
    if (!this.#options.snapshot) this.#settle.resolve();
    if (reconnected && this.#catchUp) void this.#readHead(this.#catchUp);
  }

  /** The transport lost its connection; it reconnects by itself and resumes from the last id. */
  #dropped(error: unknown) {
    if (
      this.#transport === 'websocket' &&
      this.#options.fallbackToSse &&
      !this.#startedOverWebSocket &&
      error
    ) {
      return void this.#considerSse(this.#run);
    }
    if (this.#phase !== 'live') return;
    this.#setPhase('reconnecting');
    this.#beginCatchUp();
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
      await this.api.orders.list.query({ limit: 1 });
    } catch {
      return;
    } finally {
      this.#probingForSse = false;
    }
    if (run === this.#run && this.#transport === 'websocket' && !this.#startedOverWebSocket) this.#fallBackToSse();
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
      this.#emit('error', { error: toError(err), fatal: true });
      this.#settle.reject(toError(err));
      return;
    }
    const next = this.#abandon();
    this.#emit('error', { error: toError(err), fatal: false });
    if (this.#phase === 'live') {
      this.#setPhase('reconnecting');
      this.#beginCatchUp();
    }
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
    this.#emit('error', { error: err, fatal: false });
    if (this.#phase === 'live') {
      this.#setPhase('reconnecting');
      this.#beginCatchUp();
    }
    const old = this.#connection;
    this.#connection = this.#connect();
    void old.close();
    try {
      // Proves the fresh token before subscribing (an SSE refusal carries no code).
      await this.api.orders.list.query({ limit: 1 });
    } catch (error) {
      if (next === this.#run) this.#failed(error);
      return;
    }
    if (next !== this.#run) return;
    if (this.#loaded || !this.#options.snapshot) this.#subscribe(next, this.#position);
    else this.#restart(next);
  }

  /**
   * Before subscribing again, one query: it proves the server is back and still takes the
   * token (an SSE stream refused at the HTTP level carries no error code), and gives the
   * log's head for the catch-up count.
   */
  async #retry(run: number) {
    if (run !== this.#run) return;
    if (!this.#loaded && this.#options.snapshot) return this.#restart(run);
    try {
      await this.api.orders.list.query({ limit: 1 });
    } catch (err) {
      if (run === this.#run) this.#failed(err);
      return;
    }
    if (run === this.#run) this.#restart(run);
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
      const { lastEventId } = await this.api.orders.list.query({ limit: 1 });
      if (next !== this.#run) return;
      this.#position = lastEventId;
      this.#emit('resynced', { reason, lastEventId });
      this.#subscribe(next, lastEventId);
    } catch (err) {
      if (next === this.#run) this.#failed(err);
    }
  }

  #beginCatchUp() {
    if (this.#catchUp) return this.#catchUp.dropped();
    if ( this.#position === null || !this.#loaded && this.#options.snapshot) return;
    this.#catchUp = new CatchUp(this.#position, this.#options.filter !== undefined, () => this.#finishCatchUp());
    this.#caughtUp = null;
  }

  async #readHead(catchUp: CatchUp) {
    try {
      const { lastEventId } = await this.api.orders.list.query({ limit: 1 });
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
    this.#emit('caught-up', catchUp.count);
  }

  /** Drops the subscription (and any snapshot in progress) without stopping for good. */
  #abandon(): number {
    const next = ++this.#run;
    clearTimeout(this.#retryTimer);
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = () => {};
    unsubscribe();
    return next;
  }

  #stop() {
    this.#abandon();
    this.#catchUp?.dispose();
    this.#catchUp = null;
    this.#stopWatchingNetwork();
    this.#setPhase('stopped');
  }

  #setPhase(phase: Phase) {
    this.#phase = phase;
    this.#updateState();
  }

  #updateState() {
    const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
    const phase = this.#phase;
    const state: ConnectionState = phase === 'stopped' || offline ? 'offline' : phase;
    if (state === this.#state) return;
    this.#state = state;
    this.#emit('state', state);
  }

  /** In a browser, `offline` is shown as soon as the browser knows, not after a timeout. */
  #watchNetwork() {
    const target = globalThis as { addEventListener?: Window['addEventListener']; removeEventListener?: Window['removeEventListener'] };
    if (typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function') return;
    const update = () => this.#updateState();
    target.addEventListener('online', update);
    target.addEventListener('offline', update);
    this.#stopWatchingNetwork = () => {
      target.removeEventListener?.('online', update);
      target.removeEventListener?.('offline', update);
    };
  }
}
