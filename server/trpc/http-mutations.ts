import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  callTRPCProcedure,
  getTRPCErrorFromUnknown,
  getTRPCErrorShape,
  transformTRPCResponse,
  TRPCError,
  type AnyTRPCProcedure,
  type AnyTRPCRouter,
  type inferRouterContext,
} from '@trpc/server';
import { getHTTPStatusCode, type HTTPBaseHandlerOptions, type TRPCRequestInfo } from '@trpc/server/http';
import { TRPC_ERROR_CODES_BY_KEY, type TRPCErrorShape, type TRPCResponse } from '@trpc/server/rpc';

export type HTTPMutationOptions<TRouter extends AnyTRPCRouter> = {
  router: TRouter;
  /** Where the router is served, such as `/trpc/` (as `createHTTPHandler`'s `basePath`). */
  basePath: string;
  createContext: (opts: { req: IncomingMessage; res: ServerResponse; info: TRPCRequestInfo }) => Promise<inferRouterContext<TRouter>>;
  maxBodySize: number;
  maxBatchSize: number;
  responseMeta?: HTTPBaseHandlerOptions<TRouter, IncomingMessage>['responseMeta'];
  onError?: HTTPBaseHandlerOptions<TRouter, IncomingMessage>['onError'];
};

/** Takes the request and answers it (true), or leaves it untouched for tRPC's handler (false). */
export type HTTPMutationHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

type Call = TRPCRequestInfo['calls'][number];
type Outcome = [TRPCError, undefined] | [undefined, unknown];

/** What the client gets when its error cannot be formatted (as tRPC's node adapter). */
const FALLBACK_ERROR_SHAPE: TRPCErrorShape = {
  code: TRPC_ERROR_CODES_BY_KEY.INTERNAL_SERVER_ERROR,
  message: 'Internal server error',
  data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
};
const STREAM_REFUSAL = 'Cannot use stream-like response in non-streaming request - use httpBatchStreamLink';
// Decodes as a Fetch Request's text() does (UTF-8, a leading BOM dropped); stateless when not streaming.
const utf8 = new TextDecoder();

/**
 * tRPC over HTTP for mutations (POST, JSON, single or `?batch=1`), answered straight from
 * Node's request and response. tRPC's `createHTTPHandler` turns every request into a Fetch
 * `Request` and its answer into a Fetch `Response` (undici, web streams, abort signals): about
 * half of our server's CPU per `orders.create` (docs/scaling.md). This path builds none of
 * that, from @trpc/server's public exports, and follows `resolveResponse` (11.25.2, pinned)
 * step for step, so that status, body and headers are tRPC's own:
 * test/http-mutations-conformance.test.ts sends the same requests to both and compares.
 *
 * It takes only requests it can answer exactly: every named procedure a mutation, a JSON
 * body, no streaming (`trpc-accept`, `accept: application/jsonl`), no connectionParams, a batch
 * within the limit. Everything else (queries, subscriptions, unknown procedures, other content
 * types, an oversized batch) is left, unread, to tRPC's handler. Like tRPC, it reads the body
 * only when a procedure asks for its input (after the access checks), at most `maxBodySize`.
 */
export function createHTTPMutationHandler<TRouter extends AnyTRPCRouter>(opts: HTTPMutationOptions<TRouter>): HTTPMutationHandler {
  const { router, createContext, maxBodySize, maxBatchSize, responseMeta, onError } = opts;
  // The router's root config (error formatter, transformer), which getTRPCErrorShape and
  // transformTRPCResponse take, and its flat procedure map: typed on the public AnyRouter and
  // read the same way by tRPC's own adapters and by our WebSocket transport (ws/transport.ts).
  // `_def` is the only way to them; @trpc/server is pinned, and the conformance test fails if
  // a release moves them. The map is typed per router; here it is looked up by a URL's path.
  const config = router._def._config;
  const procedures = router._def.procedures as Record<string, AnyTRPCProcedure | undefined>;
  const basePath = trimSlashes(opts.basePath);
  // Another path separator means URL paths are not procedure paths: left to tRPC.
  const separatorIsDot = (config.pathSeparator ?? '.') === '.';

  function mutationsNamed(req: IncomingMessage): { url: URL; isBatchCall: boolean; paths: string[] } | null {
    if (req.method !== 'POST' || !separatorIsDot) return null;
    const { headers } = req;
    if (!isJson(headers['content-type']) || headers['trpc-accept'] !== undefined || acceptsJsonl(headers.accept)) return null;
    let url: URL;
    let joined: string;
    try {
      // As tRPC's node adapter makes it (createURL): the Host header's, seen by procedures as info.url.
      url = new URL(req.url ?? '/', `http://${headers.host ?? 'localhost'}`);
      joined = decodeURIComponent(trimSlashes(trimSlashes(url.pathname).slice(basePath.length)));
    } catch {
      return null;
    }
    if (url.searchParams.has('connectionParams')) return null;
    const isBatchCall = url.searchParams.get('batch') === '1';
    const paths = isBatchCall ? joined.split(',') : [joined];
    if (paths.length > maxBatchSize) return null;
    for (const path of paths) {
      if (!Object.hasOwn(procedures, path) || procedures[path]?._def.type !== 'mutation') return null;
    }
    return { url, isBatchCall, paths };
  }

  async function serve(req: IncomingMessage, res: ServerResponse, { url, isBatchCall, paths }: { url: URL; isBatchCall: boolean; paths: string[] }) {
    // Aborted when the client leaves before its answer is sent, as tRPC's request signal is.
    const closed = new AbortController();
    res.once('close', () => {
      if (!res.writableEnded) closed.abort();
    });
    const inputs = lazyInputs(req, maxBodySize, isBatchCall, paths.length, (value) => config.transformer.input.deserialize(value));
    const calls: Call[] = paths.map((path, index) => ({
      batchIndex: index,
      path,
      procedure: procedures[path]!,
      getRawInput: async () => (await inputs.read())[index],
      result: () => inputs.result()?.[index],
    }));
    const info: TRPCRequestInfo = {
      isBatchCall,
      accept: null,
      calls,
      type: 'mutation',
      connectionParams: null,
      signal: closed.signal,
      url,
    };
    const headers: Record<string, string | string[]> = { vary: 'trpc-accept, accept' };
    let ctx: inferRouterContext<TRouter> | undefined;
    let ctxError: TRPCError | undefined;

    // `list` decides the status (and is what responseMeta sees); `body` is what is sent.
    const respond = (list: TRPCResponse[], errors: Array<TRPCError | undefined>, body: TRPCResponse | TRPCResponse[]) => {
      let status = getHTTPStatusCode(list, errors);
      const meta =
        responseMeta?.({
          ctx,
          info,
          paths,
          data: list as never,
          errors: errors.filter((e): e is TRPCError => e !== undefined),
          eagerGeneration: false,
          type: 'mutation',
        }) ?? {};
      addMetaHeaders(headers, meta.headers);
      if (meta.status) status = meta.status;
      const text = JSON.stringify(transformTRPCResponse(config, body as TRPCResponse));
      if (res.statusCode === 200) res.statusCode = status;
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      res.end(text);
    };

    try {
      try {
        ctx = await createContext({ req, res, info });
      } catch (cause) {
        ctxError = getTRPCErrorFromUnknown(cause);
      }
      const outcomes = calls.map(async (call): Promise<Outcome> => {
        try {
          if (ctxError) throw ctxError;
          const data: unknown = await callTRPCProcedure({
            router,
            path: call.path,
            getRawInput: call.getRawInput,
            ctx,
            type: 'mutation',
            signal: closed.signal,
            batchIndex: call.batchIndex,
          });
          return [undefined, data];
        } catch (cause) {
          const error = getTRPCErrorFromUnknown(cause);
          onError?.({ error, path: call.path, input: call.result(), ctx, type: 'mutation', req });
          return [error, undefined];
        }
      });
      headers['content-type'] = 'application/json';
      const shapeOf = (error: TRPCError, call: Call) =>
        getTRPCErrorShape({ config, ctx, error, input: call.result(), path: call.path, type: 'mutation' });

      if (!isBatchCall) {
        const [error, data] = await outcomes[0]!;
        if (!error && isDataStream(data)) throw new TRPCError({ code: 'UNSUPPORTED_MEDIA_TYPE', message: STREAM_REFUSAL });
        const json: TRPCResponse = error ? { error: shapeOf(error, calls[0]!) } : { result: { data } };
        return respond([json], error ? [error] : [], json);
      }
      const results = (await Promise.all(outcomes)).map(([error, data]): Outcome => {
        if (error || !isDataStream(data)) return [error, data] as Outcome;
        return [new TRPCError({ code: 'UNSUPPORTED_MEDIA_TYPE', message: STREAM_REFUSAL }), undefined];
      });
      const json = results.map(([error, data], index): TRPCResponse => (error ? { error: shapeOf(error, calls[index]!) } : { result: { data } }));
      return respond(
        json,
        results.map(([error]) => error),
        json,
      );
    } catch (cause) {
      // As resolveResponse's own catch: one error for the whole request, with no path.
      const error = getTRPCErrorFromUnknown(cause);
      onError?.({ error, path: undefined, input: undefined, ctx, type: 'mutation', req });
      const json = { error: getTRPCErrorShape({ config, error, type: 'mutation', path: undefined, input: undefined, ctx }) };
      return respond([json], [error], json);
    }
  }

  /** As tRPC's node adapter when answering fails: an error that says nothing. */
  function failed(req: IncomingMessage, res: ServerResponse, cause: unknown) {
    const error = getTRPCErrorFromUnknown(cause);
    let shape: TRPCErrorShape;
    try {
      shape = getTRPCErrorShape({ config, error, type: 'unknown', path: undefined, input: undefined, ctx: undefined });
    } catch {
      shape = FALLBACK_ERROR_SHAPE;
    }
    try {
      onError?.({ req, error, type: 'unknown', path: undefined, input: undefined, ctx: undefined });
    } catch {
      // ignored: the client is answered all the same
    }
    if (res.headersSent) return void res.end();
    const { httpStatus } = shape.data as { httpStatus?: unknown };
    res.statusCode = typeof httpStatus === 'number' ? httpStatus : 500;
    res.end(JSON.stringify(transformTRPCResponse(config, { error: shape })));
  }

  return (req, res) => {
    const named = mutationsNamed(req);
    if (!named) return false;
    serve(req, res, named).catch((cause: unknown) => failed(req, res, cause));
    return true;
  };
}

/**
 * The calls' inputs, read from the body once, when first asked for (as tRPC's JSON content
 * handler: an empty body means no input; a batch's body is an object by call index).
 */
function lazyInputs(
  req: IncomingMessage,
  maxBodySize: number,
  isBatchCall: boolean,
  count: number,
  deserialize: (value: unknown) => unknown,
) {
  let pending: Promise<Record<number, unknown>> | undefined;
  let value: Record<number, unknown> | undefined;
  const parse = (text: string): Record<number, unknown> => {
    const json: unknown = text ? JSON.parse(text) : undefined;
    const inputs: Record<number, unknown> = Object.create(null);
    if (json === undefined) return inputs;
    if (!isBatchCall) {
      inputs[0] = deserialize(json);
      return inputs;
    }
    if (!isObject(json)) throw new TRPCError({ code: 'BAD_REQUEST', message: '"input" needs to be an object when doing a batch call' });
    for (let index = 0; index < count; index++) {
      const input = json[index];
      if (input !== undefined) inputs[index] = deserialize(input);
    }
    return inputs;
  };
  return {
    read(): Promise<Record<number, unknown>> {
      pending ??= readBody(req, maxBodySize).then(parse).then(
        (inputs) => (value = inputs),
        (cause: unknown) => {
          if (cause instanceof TRPCError) throw cause;
          throw new TRPCError({ code: 'BAD_REQUEST', message: cause instanceof Error ? cause.message : 'Invalid input', cause });
        },
      );
      return pending;
    },
    result: () => value,
  };
}

/** The body as text; PAYLOAD_TOO_LARGE past `maxBodySize` bytes (the rest is left unread). */
function readBody(req: IncomingMessage, maxBodySize: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodySize) return void chunks.push(chunk);
      done();
      reject(new TRPCError({ code: 'PAYLOAD_TOO_LARGE' }));
    };
    const onEnd = () => {
      done();
      resolve(utf8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    };
    // Gone before the body's end: nobody will read the answer, but the call must not wait for ever.
    const onGone = () => {
      done();
      reject(new Error('the client left before sending the whole body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onGone);
  });
}

// As tRPC's: content types are case-insensitive and may carry parameters (charset).
function isJson(contentType: string | undefined): boolean {
  return contentType?.toLowerCase().split(';', 1)[0]?.trim() === 'application/json';
}

function acceptsJsonl(accept: string | undefined): boolean {
  return accept?.split(',').some((type) => type.trim() === 'application/jsonl') ?? false;
}

function trimSlashes(path: string): string {
  const start = path.startsWith('/') ? path.slice(1) : path;
  return start.endsWith('/') ? start.slice(0, -1) : start;
}

function addMetaHeaders(headers: Record<string, string | string[]>, extra: unknown): void {
  if (!extra) return;
  const append = (name: string, value: string) => {
    const key = name.toLowerCase();
    const current = headers[key];
    headers[key] = current === undefined ? value : key === 'set-cookie' ? [...[current].flat(), value] : `${[current].flat().join(', ')}, ${value}`;
  };
  if (extra instanceof Headers) {
    for (const [name, value] of extra.entries()) append(name, value);
    return;
  }
  for (const [name, value] of Object.entries(extra as Record<string, unknown>)) {
    if (Array.isArray(value)) for (const v of value) append(name, String(v));
    else if (typeof value === 'string') headers[name.toLowerCase()] = value;
  }
}

function isObject(value: unknown): value is Record<string | number, unknown> {
  return !!value && !Array.isArray(value) && typeof value === 'object';
}

// As resolveResponse's isDataStream: a value only the streaming link can carry.
function isDataStream(value: unknown): boolean {
  if (!isObject(value)) return false;
  if (Symbol.asyncIterator in value) return true;
  const isPromise = (v: unknown) =>
    (isObject(v) || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function' && typeof (v as { catch?: unknown }).catch === 'function';
  return Object.values(value).some((v) => isPromise(v) || (isObject(v) && Symbol.asyncIterator in v));
}
