import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import sirv from 'sirv';
import { MAX_BATCH_OPERATIONS, TRPC_PATH } from '../shared/protocol.ts';
import { originAllowed } from './auth/origin.ts';
import type { Config } from './config.ts';
import { ConnectionsPerAddress } from './connections-per-address.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { createOpsEndpoints } from './ops-endpoints.ts';
import type { createSignInRoutes } from './auth/sign-in.ts';
import type { IdentifyRequest } from './request-identity.ts';
import { logUpgrade, trackRequest } from './request-log.ts';
import { createRestHandler } from './rest/orders.ts';
import { sendJson } from './rest/http.ts';
import { appRouter } from './routers/app.ts';
import type { Context } from './trpc/context.ts';
import { logError } from './trpc/errors.ts';
import { createHTTPMutationHandler } from './trpc/http-mutations.ts';
import { RateLimitedError } from './trpc/init.ts';
import { createWebSocketTransport, type WebSocketTransport } from './ws/transport.ts';

/** What the server needs besides its configuration; built in app.ts. */
export type HttpServerParts = {
  context: ContextFactory;
  ops: ReturnType<typeof createOpsEndpoints>;
  /** /auth/*: the page's sign-in with the identity provider (auth/sign-in.ts) */
  signIn: ReturnType<typeof createSignInRoutes>;
  identify: IdentifyRequest;
  metrics: Metrics;
};

export type HttpServer = {
  server: Server;
  /** Tells WebSocket clients to reconnect (elsewhere, or here once back), then closes them. */
  closeWebSockets(): void;
  /** Cuts every WebSocket without a word, as a network failure would. */
  dropWebSockets(): void;
  webSocketCount(): number;
  /** Bytes queued in memory for each open WebSocket (what a slow client costs us). */
  webSocketBufferedBytes(): number[];
  /**
   * Cuts every open Server-Sent Events stream. Clients reconnect by themselves (EventSource
   * does), resuming from the last id they saw: what shutdown wants, and what a network
   * failure looks like. Returns how many it cut.
   */
  dropEventStreams(): number;
  /** Bytes queued in memory for each open event stream (what a slow SSE client costs us). */
  eventStreamBufferedBytes(): number[];
  /** tRPC over WebSocket on /trpc (server/ws/transport.ts). */
  webSockets: WebSocketTransport;
  /** For tests: how many requests the lean mutation path answered, and a switch to bypass it. */
  httpMutations: HttpMutationsDrill;
};

export type HttpMutationsDrill = {
  /** Requests answered by trpc/http-mutations.ts rather than tRPC's handler, so far. */
  answered(): number;
  /** Sends every request to tRPC's handler (true) or lets the lean path take mutations again. */
  bypass(on: boolean): void;
};

/**
 * One port for everything:
 *   /trpc        tRPC over HTTP (batching on; subscriptions as Server-Sent Events) and,
 *                on upgrade, over WebSocket
 *   /api/orders  the seed's REST API
 *   /healthz     database and listener status; /readyz, /metrics (ops-endpoints.ts)
 *   /            the built page
 */
export function createHttpServer(config: Config, { context, ops, signIn, identify, metrics }: HttpServerParts, log: Logger): HttpServer {
  const onError = ({ error, path }: { error: Parameters<typeof logError>[1]; path?: string }) => logError(log, error, path);

  const trpcOptions = {
    router: appRouter,
    createContext: context,
    basePath: `${TRPC_PATH}/`,
    maxBodySize: config.maxBodyBytes,
    maxBatchSize: MAX_BATCH_OPERATIONS,
    responseMeta: ({ errors }: { errors: Array<{ cause?: unknown }> }) => {
      const limited = errors.find((e) => e.cause instanceof RateLimitedError)?.cause as RateLimitedError | undefined;
      return limited ? { headers: { 'retry-after': String(limited.retryAfterSeconds) } } : {};
    },
    onError,
  };
  const trpc = createHTTPHandler(trpcOptions);
  // Mutations over POST without tRPC's Fetch Request and Response: a quarter to a third less
  // server CPU per create (docs/scaling.md). Anything else goes to tRPC's handler.
  const mutations = createHTTPMutationHandler(trpcOptions);
  let mutationsAnswered = 0;
  let bypassMutations = false;
  const rest = createRestHandler(context, config.maxBodyBytes);
  const page = staticPage(config.webDistDir);
  // tRPC GET responses still open: the event streams among them are never idle, so
  // server.close() would wait for them for ever.
  const openGets = new Set<ServerResponse>();
  // One cap for WebSockets and event streams together: each holds a socket and a subscription.
  const perAddress = new ConnectionsPerAddress(config.maxConnectionsPerAddress);
  const isEventStream = (res: ServerResponse) => String(res.getHeader('content-type') ?? '').startsWith('text/event-stream');

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const { pathname } = url;
    for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
    const identity = identify(req);
    trackRequest(log, metrics, req, res, pathname, identity);
    // A route that answered before reading the whole body (413, a refusal) must let the client
    // finish sending, or it sees a reset instead of the answer. Node drains a body nobody read;
    // one read in part and paused it leaves alone, so this drains that too.
    res.once('finish', () => {
      if (!req.complete) req.resume();
    });
    try {
      if (pathname === TRPC_PATH || pathname.startsWith(`${TRPC_PATH}/`)) {
        if (req.method === 'GET' && pathname === EVENT_STREAM_PATH) {
          // An event stream costs what a WebSocket subscription does: the same cap per address.
          // Behind a trusted proxy, the client it forwards for (TRUST_PROXY), not the proxy.
          const address = identity.clientAddress;
          if (!perAddress.hasRoom(address)) return sendJson(res, 429, { error: perAddress.refusal });
          perAddress.opened(address);
          res.once('close', () => perAddress.released(address));
        }
        if (req.method === 'GET') {
          openGets.add(res);
          res.once('close', () => openGets.delete(res));
        }
        if (!bypassMutations && mutations(req, res)) {
          mutationsAnswered++;
          return;
        }
        return trpc(req, res);
      }
      if (await ops(req, res, pathname)) return;
      if (await signIn(req, res, pathname)) return;
      if (await rest(req, res, pathname, url.searchParams)) return;
      if (pathname.startsWith('/api/')) return sendJson(res, 404, { error: `no route ${req.method} ${pathname}` });
      page(req, res, () => sendJson(res, 404, { error: `no route ${req.method} ${pathname}` }));
    } catch (err) {
      log.error({ err, path: pathname }, 'unexpected error');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal server error' });
      else res.destroy();
    }
  });

  const webSockets = createWebSocketTransport({
    router: appRouter,
    createContext: context,
    onError,
    // A WebSocket message is held whole in memory before it is parsed: same cap as a body.
    maxPayload: config.maxBodyBytes,
    keepAlive: { pingMs: 30_000, pongWaitMs: 5_000 },
  });
  const refuse = (socket: Duplex, status: string, message: string) =>
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
  server.on('upgrade', (req, socket, head) => {
    // Node hands the socket over without its own error listener. A client that resets while a
    // refusal is written (HAProxy does so by itself) would otherwise crash the process with an
    // unhandled ECONNRESET. ws adds its own listeners once it accepts; this one stays harmless.
    // The path, not `req`: this listener lives as long as the socket and would keep the
    // request (every header of it) in memory with it.
    const requestPath = req.url;
    socket.on('error', (err) => {
      log.debug({ err, path: requestPath }, 'upgrade socket error');
      socket.destroy();
    });
    const started = performance.now();
    const identity = identify(req);
    const refuseLogged = (status: string, message: string) => {
      logUpgrade(log, identity, Number.parseInt(status, 10), started, message);
      refuse(socket, status, message);
    };
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname !== TRPC_PATH) return refuseLogged('404 Not Found', `no WebSocket endpoint at ${pathname}; use ${TRPC_PATH}`);
    // Against cross-site WebSocket hijacking: a browser always sends Origin; scripts may not.
    const origin = req.headers.origin;
    if (origin !== undefined && !originAllowed(origin, req.headers.host, config.allowedOrigins)) {
      return refuseLogged('403 Forbidden', `origin ${origin} may not open a WebSocket here (ALLOWED_ORIGINS)`);
    }
    // Behind a trusted proxy, the client it forwards for (TRUST_PROXY), not the proxy.
    const address = identity.clientAddress;
    if (!perAddress.hasRoom(address)) return refuseLogged('429 Too Many Requests', perAddress.refusal);
    webSockets.handleUpgrade(req, socket, head, (ws) => {
      logUpgrade(log, identity, 101, started);
      perAddress.opened(address);
      ws.on('close', () => perAddress.released(address));
    });
  });

  return {
    server,
    closeWebSockets() {
      webSockets.broadcastReconnectNotification();
      webSockets.closeAll(1012, 'server restarting');
      webSockets.stop();
    },
    dropWebSockets() {
      webSockets.terminateAll();
    },
    webSocketCount() {
      return webSockets.count();
    },
    webSocketBufferedBytes() {
      return webSockets.bufferedBytes();
    },
    webSockets,
    httpMutations: {
      answered: () => mutationsAnswered,
      bypass(on) {
        bypassMutations = on;
      },
    },
    dropEventStreams() {
      const streams = [...openGets].filter(isEventStream);
      for (const res of streams) res.destroy();
      return streams.length;
    },
    eventStreamBufferedBytes() {
      return [...openGets].filter(isEventStream).map((res) => res.writableLength);
    },
  };
}

// The one subscription procedure; tRPC serves it over HTTP as Server-Sent Events (never batched).
const EVENT_STREAM_PATH = `${TRPC_PATH}/orders.onChange`;

type ContextFactory = (opts: { req: IncomingMessage; res?: unknown; info?: { connectionParams?: Record<string, string | undefined> | null } }) => Promise<Context>;

// The page loads only its own scripts and styles and talks only to its own origin.
const SECURITY_HEADERS: Array<[string, string]> = [
  [
    'content-security-policy',
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
      "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  ],
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'no-referrer'],
  ['x-frame-options', 'DENY'],
  ['cross-origin-opener-policy', 'same-origin'],
];

/** The built SolidJS page, or a note on how to build it. */
function staticPage(dir: string) {
  const root = path.resolve(dir);
  if (existsSync(path.join(root, 'index.html'))) {
    return sirv(root, { etag: true, dev: false });
  }
  return (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname !== '/') return next();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>live-orders</title><p>live-orders is running. The page is not built: run <code>npm run build:web</code>.</p>');
  };
}
