import type { IncomingMessage } from 'node:http';
import {
  callTRPCProcedure,
  getTRPCErrorFromUnknown,
  getTRPCErrorShape,
  isTrackedEnvelope,
  transformTRPCResponse,
  TRPCError,
  type AnyTRPCRootTypes,
  type AnyTRPCRouter,
  type inferRouterContext,
  type TRPCProcedureType,
  type TRPCRootConfig,
} from '@trpc/server';
import { parseConnectionParamsFromUnknown, type TRPCRequestInfo } from '@trpc/server/http';
import { isObservable, observableToAsyncIterable } from '@trpc/server/observable';
import {
  parseTRPCMessage,
  TRPC_ERROR_CODES_BY_KEY,
  type TRPCClientOutgoingMessage,
  type TRPCErrorShape,
  type TRPCResponseMessage,
} from '@trpc/server/rpc';
import type { RawData, WebSocket } from 'ws';
import { EventStream } from '../events/event-stream.ts';
import { Call, isAbortError, isAsyncIterable, StopListener } from './call.ts';
import { requestPrefix, type EventFrames } from './event-frames.ts';
import type { SocketWriter } from './socket-writer.ts';
import { SubscriptionSink } from './subscription-sink.ts';

/** What tRPC's adapters pass to `onError`. */
export type WebSocketErrorInfo<TContext> = {
  error: TRPCError;
  path: string | undefined;
  type: TRPCProcedureType | 'unknown';
  ctx: TContext | undefined;
  /** The upgrade request, until the connection's context is made (not kept longer: memory). */
  req: IncomingMessage | undefined;
  input: unknown;
};

export type CreateWebSocketContext<TContext> = (opts: {
  req: IncomingMessage;
  res: WebSocket;
  info: TRPCRequestInfo;
}) => TContext | Promise<TContext>;

/** What every connection of one transport shares. */
export type ConnectionShared<TRouter extends AnyTRPCRouter> = {
  router: TRouter;
  config: TRPCRootConfig<AnyTRPCRootTypes>;
  createContext: CreateWebSocketContext<inferRouterContext<TRouter>>;
  onError?: (info: WebSocketErrorInfo<inferRouterContext<TRouter>>) => void;
  frames: EventFrames;
};

type ContextResult<TContext> = { ok: true; value: TContext } | { ok: false; error: TRPCError };
type ErrorCall = { error: TRPCError; type: TRPCProcedureType | 'unknown'; path: string | undefined; input: unknown };

const OPEN = 1;

/**
 * What the client gets when its error cannot be formatted or encoded (as tRPC's adapter).
 */
const FALLBACK_ERROR_SHAPE: TRPCErrorShape = {
  code: TRPC_ERROR_CODES_BY_KEY.INTERNAL_SERVER_ERROR,
  message: 'Internal server error',
  data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
};

/**
 * One WebSocket speaking tRPC v11's protocol, as `createWSClient`/`wsLink` expect it and as
 * `@trpc/server/adapters/ws` speaks it (test/ws-conformance.test.ts compares the two message
 * by message): `connectionParams` first when the URL says `connectionParams=1`; single and
 * batched requests; `jsonrpc` echoed; queries, mutations and subscriptions; `subscription.stop`;
 * "started", "data", "stopped" and error replies; PING/PONG. Built from @trpc/server's public
 * exports; its control flow follows that adapter's, step for step, so that replies and their
 * order are the same.
 *
 * What differs is how a subscription's events leave when its procedure returns an
 * `EventStream` (events/event-stream.ts): it is not iterated but asked to push into a
 * `SubscriptionSink` (its request id and this socket), which writes each event as a message
 * built once per event and prefix (event-frames.ts). Any other subscription is iterated, one
 * message per value, as tRPC's adapter does. Everything leaves through the `SocketWriter`.
 */
export class TRPCConnection<TRouter extends AnyTRPCRouter> {
  #ctx: inferRouterContext<TRouter> | undefined;
  #ctxResult: Promise<ContextResult<inferRouterContext<TRouter>>> | null = null;
  // Needed to make the context; dropped then, as it holds every header of the upgrade.
  #req: IncomingMessage | undefined;
  readonly #subscriptions = new Map<number | string, AbortController>();
  // Tells context creation that the connection closed; dropped once the context is made
  // (nothing of ours listens later), as an AbortSignal costs about 1 KB per connection.
  #closed: AbortController | undefined = new AbortController();
  private readonly ws: WebSocket;

  constructor(
    private readonly writer: SocketWriter,
    req: IncomingMessage,
    private readonly shared: ConnectionShared<TRouter>,
  ) {
    const ws = writer.ws;
    this.ws = ws;
    this.#req = req;
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    // Handled, or an invalid frame from a client would crash the process.
    ws.on('error', (cause) =>
      this.#report({ error: getTRPCErrorFromUnknown(cause), path: undefined, type: 'unknown', input: undefined }),
    );
    ws.on('close', () => {
      for (const subscription of this.#subscriptions.values()) subscription.abort();
      this.#subscriptions.clear();
      this.#closed?.abort();
    });
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.searchParams.get('connectionParams') !== '1') this.#ctxResult = this.#createContext(() => null);
  }

  #respond(message: TRPCResponseMessage): void {
    if (this.ws.readyState !== OPEN) return;
    this.writer.send(JSON.stringify(transformTRPCResponse(this.shared.config, message)));
  }

  /** Reports to `onError`; an `onError` that throws is not our client's problem. */
  #report(call: ErrorCall): void {
    try {
      this.shared.onError?.({ ...call, ctx: this.#ctx, req: this.#req });
    } catch {
      // ignored, as tRPC's adapter does
    }
  }

  #errorShape(call: ErrorCall): TRPCErrorShape {
    try {
      return getTRPCErrorShape({ config: this.shared.config, ctx: this.#ctx, ...call });
    } catch (cause) {
      this.#report({ ...call, error: getTRPCErrorFromUnknown(cause) });
      return FALLBACK_ERROR_SHAPE;
    }
  }

  #reportConnectionError(cause: unknown): void {
    this.#report({ error: getTRPCErrorFromUnknown(cause), path: undefined, type: 'unknown', input: undefined });
  }

  /** A reply tied to no request; one that cannot be built or sent becomes the fallback error. */
  #respondOrReport(response: () => TRPCResponseMessage): void {
    let message: TRPCResponseMessage | null = null;
    try {
      message = response();
      this.#respond(message);
    } catch (cause) {
      this.#reportConnectionError(cause);
      if (message === null) return;
      try {
        this.#respond({ id: message.id, jsonrpc: message.jsonrpc, error: FALLBACK_ERROR_SHAPE });
      } catch {
        // the same failure, reported above
      }
    }
  }

  async #createContext(
    connectionParams: () => TRPCRequestInfo['connectionParams'],
  ): Promise<ContextResult<inferRouterContext<TRouter>>> {
    try {
      const ctx = await this.shared.createContext({
        req: this.#req!,
        res: this.ws,
        info: {
          connectionParams: connectionParams(),
          calls: [],
          isBatchCall: false,
          accept: null,
          type: 'unknown',
          signal: this.#closed!.signal,
          url: null,
        },
      });
      this.#ctx = ctx;
      this.#req = undefined;
      this.#closed = undefined;
      return { ok: true, value: ctx };
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      const call = { error, type: 'unknown', path: undefined, input: undefined } as const;
      this.#report(call);
      this.#respondOrReport(() => ({ id: null, error: this.#errorShape(call) }));
      this.#req = undefined;
      this.#closed = undefined;
      setImmediate(() => this.ws.close());
      return { ok: false, error };
    }
  }

  #onMessage(raw: RawData, isBinary: boolean): void {
    this.writer.heard();
    const text = isBinary ? undefined : raw.toString();
    if (text === 'PONG') return;
    if (text === 'PING') return this.writer.send('PONG');
    if (!Buffer.isBuffer(raw)) {
      const error = new TRPCError({ code: 'UNPROCESSABLE_CONTENT', message: 'Unexpected WebSocket message format' });
      this.#respondOrReport(() => ({
        id: null,
        error: this.#errorShape({ error, type: 'unknown', path: undefined, input: undefined }),
      }));
      return;
    }
    const data = text ?? raw;

    if (!this.#ctxResult) {
      // The URL announced connectionParams: this first message carries them.
      this.#ctxResult = this.#createContext(() => {
        let message: unknown;
        try {
          message = decode(data);
          if (typeof message !== 'object' || message === null || Array.isArray(message)) throw new Error('Message was not an object');
        } catch (cause) {
          throw new TRPCError({ code: 'PARSE_ERROR', message: 'Malformed TRPCConnectionParamsMessage', cause });
        }
        return parseConnectionParamsFromUnknown((message as { data?: unknown }).data);
      });
      return;
    }

    let messages: TRPCClientOutgoingMessage[];
    try {
      const json = decode(data);
      messages = (Array.isArray(json) ? json : [json]).map((m) => parseTRPCMessage(m, this.shared.config.transformer));
    } catch (cause) {
      const error = new TRPCError({ code: 'PARSE_ERROR', cause });
      this.#respondOrReport(() => ({
        id: null,
        error: this.#errorShape({ error, type: 'unknown', path: undefined, input: undefined }),
      }));
      return;
    }
    const ctxResult = this.#ctxResult;
    messages.forEach((message, index) => {
      try {
        this.#handle(message, index, ctxResult);
      } catch (cause) {
        this.#reportConnectionError(cause);
      }
    });
  }

  /** One request of a message: checked here, then run by `#run` (which does not hold the message). */
  #handle(
    message: TRPCClientOutgoingMessage,
    batchIndex: number,
    ctxResult: Promise<ContextResult<inferRouterContext<TRouter>>>,
  ): void {
    const { id, jsonrpc } = message;
    if (id === null) {
      const error = new TRPCError({ code: 'PARSE_ERROR', message: '`id` is required' });
      const info = { error, type: 'unknown', path: undefined, input: undefined } as const;
      this.#report(info);
      this.#respond({ id, jsonrpc, error: this.#errorShape(info) });
      return;
    }
    if (message.method === 'subscription.stop') {
      this.#subscriptions.get(id)?.abort();
      return;
    }
    const { path, lastEventId } = message.params;
    let { input } = message.params;
    if (lastEventId !== undefined) {
      if (typeof input === 'object' && input !== null && !Array.isArray(input)) input = { ...input, lastEventId };
      else input ??= { lastEventId };
    }
    const call = new Call(id, jsonrpc, message.method, path, input);

    if (call.type === 'subscription' && this.#subscriptions.has(id)) {
      this.#respondWithError(call, new TRPCError({ message: `Duplicate id ${id}`, code: 'BAD_REQUEST' }));
      return;
    }
    this.#run(call, ctxResult, batchIndex).catch((cause) => this.#reportConnectionError(cause));
  }

  /**
   * A call from start to end: its result, or its error; for a subscription "started", its
   * life, and "stopped". A subscription holds this frame and its drain's (`#push` or
   * `#iterate`) for as long as it is open (its setup, `#start`, has returned by then).
   */
  async #run(call: Call, ctxResult: Promise<ContextResult<inferRouterContext<TRouter>>>, batchIndex: number): Promise<void> {
    const { id, jsonrpc, type } = call;
    // Registered before any await, so that a stop or a disconnect meanwhile cancels it.
    if (type === 'subscription') this.#subscriptions.set(id, call.controller);
    try {
      const values = await this.#start(call, ctxResult, batchIndex);
      if (values instanceof EventStream) await this.#push(call, values);
      else if (values !== undefined) await this.#iterate(call, values);
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      // A procedure that gave up because its subscription was cancelled is not an error.
      const cancelledSetup = call.controller.signal.aborted && error.code === 'INTERNAL_SERVER_ERROR' && isAbortError(error.cause);
      if (!cancelledSetup) {
        this.#endSubscription(call);
        try {
          this.#respondWithError(call, error);
        } catch (sendCause) {
          this.#report({ error: getTRPCErrorFromUnknown(sendCause), path: call.path, type, input: call.input });
          this.#respondOrReport(() => ({ id, jsonrpc, error: FALLBACK_ERROR_SHAPE }));
        }
        return;
      }
    }
    this.#endSubscription(call);
    if (type === 'subscription') this.#respond({ id, jsonrpc, result: { type: 'stopped' } });
  }

  /** A subscription's call is over: cancelled if its socket is gone, and its id free again. */
  #endSubscription(call: Call): void {
    if (call.type !== 'subscription') return;
    if (this.ws.readyState !== OPEN) call.abort();
    this.#subscriptions.delete(call.id);
  }

  #reportError(call: Call, cause: unknown): TRPCError {
    const error = getTRPCErrorFromUnknown(cause);
    this.#report({ error, path: call.path, type: call.type, input: call.input });
    return error;
  }

  #respondWithError(call: Call, cause: unknown): void {
    const error = this.#reportError(call, cause);
    this.#respond({
      id: call.id,
      jsonrpc: call.jsonrpc,
      error: this.#errorShape({ error, type: call.type, path: call.path, input: call.input }),
    });
  }

  /**
   * Runs the procedure. A query's or mutation's result is sent here; a subscription's values
   * are returned, once "started" is sent, for `#iterate`. Undefined when there is nothing more
   * to do (answered, or cancelled meanwhile).
   */
  async #start(
    call: Call,
    ctxResult: Promise<ContextResult<inferRouterContext<TRouter>>>,
    batchIndex: number,
  ): Promise<AsyncIterable<unknown> | undefined> {
    const { id, jsonrpc, type, path, controller } = call;
    const ctxOutcome = await ctxResult;
    if (!ctxOutcome.ok) throw ctxOutcome.error;
    if (controller.signal.aborted || (type === 'subscription' && this.ws.readyState !== OPEN)) return undefined;

    const result: unknown = await callTRPCProcedure({
      router: this.shared.router,
      path,
      getRawInput: call.rawInput.bind(call),
      ctx: ctxOutcome.value,
      type,
      signal: controller.signal,
      batchIndex,
    });
    const iterable = isAsyncIterable(result) || isObservable(result);

    if (type !== 'subscription') {
      if (iterable) {
        throw new TRPCError({
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `Cannot return an async iterable or observable from a ${type} procedure with WebSockets`,
        });
      }
      this.#respond({ id, jsonrpc, result: { type: 'data', data: result } });
      return undefined;
    }
    if (!iterable) {
      throw new TRPCError({
        message: `Subscription ${path} did not return an observable or a AsyncGenerator`,
        code: 'INTERNAL_SERVER_ERROR',
      });
    }
    if (this.ws.readyState !== OPEN) {
      call.abort();
      if (isObservable(result)) return undefined;
    }
    const values: AsyncIterable<unknown> = isObservable(result)
      ? observableToAsyncIterable(result, controller.signal)
      : (result as AsyncIterable<unknown>);
    if (controller.signal.aborted || this.ws.readyState !== OPEN) {
      call.abort();
      // An EventStream not drained has started nothing.
      if (values instanceof EventStream) return undefined;
      try {
        await values[Symbol.asyncIterator]().return?.();
      } catch (cause) {
        this.#reportError(call, cause);
      }
      return undefined;
    }

    this.#respond({ id, jsonrpc, result: { type: 'started' } });
    return values;
  }

  /**
   * An `EventStream`'s drain over this socket: its events pushed into the subscription's sink
   * until the subscription is stopped (the stream's signal is the call's) or the stream fails.
   * Its replies are those of `#iterate` for a stream that yields nothing: an error before a
   * stop goes to the client; one after it to the server's log only.
   */
  async #push(call: Call, stream: EventStream): Promise<void> {
    const sink = new SubscriptionSink(this.writer, this.shared.frames, requestPrefix(call.id, call.jsonrpc));
    try {
      await stream.pushTo(sink, 'websocket');
    } catch (cause) {
      const stopped = call.controller.signal.aborted;
      call.abort();
      if (!stopped) this.#respondWithError(call, cause);
      else if (!isAbortError(getTRPCErrorFromUnknown(cause).cause)) this.#reportError(call, cause);
      return;
    }
    // It ends without failing only once stopped: its socket closed, or `subscription.stop`.
    call.abort();
  }

  /**
   * `iterator.next()`, unless the subscription is stopped first: then 'abort' at once. A
   * rejection before the stop comes back as a TRPCError; one after it goes to the server's
   * log only (unless it is the AbortError a stopped subscription is expected to end with).
   * One abort listener per step, removed when the step settles: nothing accumulates.
   */
  #nextUnlessStopped(call: Call, iterator: AsyncIterator<unknown>): Promise<IteratorResult<unknown> | TRPCError | 'abort'> {
    const signal = call.controller.signal;
    return new Promise((resolve) => {
      const stop = new StopListener(resolve);
      signal.addEventListener('abort', stop, { once: true });
      iterator.next().then(
        (result) => {
          signal.removeEventListener('abort', stop);
          resolve(result);
        },
        (cause: unknown) => {
          signal.removeEventListener('abort', stop);
          const error = getTRPCErrorFromUnknown(cause);
          if (!signal.aborted) return resolve(error);
          if (!isAbortError(error.cause)) this.#reportError(call, error);
          resolve('abort');
        },
      );
    });
  }

  /**
   * Runs a subscription's iterator until it is done, fails, or is stopped; then disposes of it
   * (its `return()`), as tRPC's adapter does with `await using`. A stop does not wait for a
   * pending `next()`; the disposal does.
   */
  async #iterate(call: Call, values: AsyncIterable<unknown>): Promise<void> {
    const iterator = values[Symbol.asyncIterator]();
    const signal = call.controller.signal;
    let completed = false;
    let failure: { cause: unknown } | undefined;
    try {
      for (;;) {
        const next = await this.#nextUnlessStopped(call, iterator);
        if (next === 'abort') break;
        if (next instanceof Error) throw next;
        if (next.done) {
          completed = true;
          break;
        }
        const value = next.value;
        const result = isTrackedEnvelope(value)
          ? { type: 'data' as const, data: { id: value[0], data: value[1] }, id: value[0] }
          : { type: 'data' as const, data: value };
        this.#respond({ id: call.id, jsonrpc: call.jsonrpc, result });
      }
    } catch (cause) {
      failure = { cause };
    }
    // Cleanup that waits for cancellation is woken when iteration ends other than by `done`.
    if (!completed) call.abort();
    try {
      await iterator.return?.();
    } catch (cause) {
      call.abort();
      if (failure === undefined) this.#reportError(call, cause);
      else {
        // The client gets the iteration's error, the server both.
        this.#respondWithError(call, failure.cause);
        this.#reportError(call, cause);
      }
      return;
    }
    if (failure !== undefined) {
      call.abort();
      this.#respondWithError(call, failure.cause);
    }
  }
}

/** tRPC's JSON encoding: text frames only (its jsonEncoder refuses binary ones the same way). */
function decode(data: string | Buffer): unknown {
  if (typeof data !== 'string') {
    throw new Error('jsonEncoder received binary data. JSON uses text frames. Use a binary encoder for binary data.');
  }
  return JSON.parse(data);
}
