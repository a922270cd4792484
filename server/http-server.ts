import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import sirv from 'sirv';
import { WebSocketServer } from 'ws';
import { TRPC_PATH } from '../shared/protocol.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { createRestHandler } from './rest/orders.ts';
import { sendJson } from './rest/http.ts';
import { appRouter } from './routers/app.ts';
import type { Context } from './trpc/context.ts';
import { logError } from './trpc/errors.ts';

export type Health = () => Promise<{ ok: boolean } & Record<string, unknown>>;

export type HttpServer = {
  server: Server;
  /** Tells WebSocket clients to reconnect (elsewhere, or here once back), then closes them. */
  closeWebSockets(): void;
  /** Cuts every WebSocket without a word, as a network failure would. */
  dropWebSockets(): void;
  /** Bytes queued in memory for each open WebSocket (what a slow client costs us). */
  webSocketBufferedBytes(): number[];
};

/**
 * One port for everything:
 *   /trpc        tRPC over HTTP (batching on) and, on upgrade, over WebSocket
 *   /api/orders  the seed's REST API
 *   /healthz     database and listener status
 *   /            the built page
 */
export function createHttpServer(config: Config, context: () => Context, health: Health, log: Logger): HttpServer {
  const onError = ({ error, path }: { error: Parameters<typeof logError>[1]; path?: string }) => logError(log, error, path);

  const trpc = createHTTPHandler({
    router: appRouter,
    createContext: context,
    basePath: `${TRPC_PATH}/`,
    maxBodySize: config.maxBodyBytes,
    onError,
  });
  const rest = createRestHandler(context, config.maxBodyBytes);
  const page = staticPage(config.webDistDir);

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const { pathname } = url;
    try {
      if (pathname === TRPC_PATH || pathname.startsWith(`${TRPC_PATH}/`)) return trpc(req, res);
      if (pathname === '/healthz') {
        const status = await health();
        return sendJson(res, status.ok ? 200 : 503, status);
      }
      if (await rest(req, res, pathname, url.searchParams)) return;
      if (pathname.startsWith('/api/')) return sendJson(res, 404, { error: `no route ${req.method} ${pathname}` });
      page(req, res, () => sendJson(res, 404, { error: `no route ${req.method} ${pathname}` }));
    } catch (err) {
      log.error({ err, path: pathname }, 'unexpected error');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal server error' });
      else res.destroy();
    }
  });

  const wss = new WebSocketServer({ noServer: true });
  const wsHandler = applyWSSHandler({
    wss,
    router: appRouter,
    createContext: context,
    keepAlive: { enabled: true, pingMs: 30_000, pongWaitMs: 5_000 },
    onError,
  });
  server.on('upgrade', (req, socket, head) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname !== TRPC_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  return {
    server,
    closeWebSockets() {
      wsHandler.broadcastReconnectNotification();
      for (const ws of wss.clients) ws.close(1012, 'server restarting');
      wss.close();
    },
    dropWebSockets() {
      for (const ws of wss.clients) ws.terminate();
    },
    webSocketBufferedBytes() {
      return [...wss.clients].map((ws) => ws.bufferedAmount);
    },
  };
}

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
