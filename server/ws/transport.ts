import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AnyTRPCRouter, inferRouterContext } from '@trpc/server';
import type { TRPCReconnectNotification } from '@trpc/server/rpc';
import { WebSocketServer, type WebSocket } from 'ws';
import { EventFrames } from './event-frames.ts';
import { SocketWriter } from './socket-writer.ts';
import { TRPCConnection, type CreateWebSocketContext, type WebSocketErrorInfo } from './trpc-connection.ts';
import { TurnWrites } from './turn-writes.ts';

export type WebSocketTransportOptions<TRouter extends AnyTRPCRouter> = {
  router: TRouter;
  createContext: CreateWebSocketContext<inferRouterContext<TRouter>>;
  onError?: (info: WebSocketErrorInfo<inferRouterContext<TRouter>>) => void;
  /** Largest message accepted; a larger one closes the connection with 1009. */
  maxPayload: number;
  /** A PING after `pingMs` without a message from the client; closed if none within `pongWaitMs`. */
  keepAlive: { pingMs: number; pongWaitMs: number };
};

export type WebSocketTransport = {
  /** Completes a WebSocket handshake on `socket` and serves tRPC on it; `onOpen` once it is served. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, onOpen?: (ws: WebSocket) => void): void;
  /** tRPC's `{ id: null, method: 'reconnect' }` to every open connection. */
  broadcastReconnectNotification(): void;
  /** Closes every connection with a close frame. */
  closeAll(code: number, reason: string): void;
  /** Cuts every connection without a word, as a network failure would. */
  terminateAll(): void;
  /** Bytes queued in memory for each open connection. */
  bufferedBytes(): number[];
  /** Open connections. */
  count(): number;
  /** Event messages built so far: at most one per event per request-id prefix (event-frames.ts). */
  eventMessagesBuilt(): number;
  /** Stops the keep-alive sweep. */
  stop(): void;
};

/**
 * tRPC over WebSocket on `ws`'s public API, for any tRPC router: the handshake by a
 * `WebSocketServer` in noServer mode; each connection a `SocketWriter` (what leaves it) and a
 * `TRPCConnection` (tRPC's protocol on it).
 *
 * Compression is off by construction (`perMessageDeflate: false`) and checked on every
 * connection: messages are built once and shared between subscribers, which only works if
 * `ws` sends them as they are; a connection that somehow negotiated an extension is closed.
 *
 * Keep-alive is one sweep over all connections rather than two timers per connection (as
 * tRPC's adapter has): at 10,000 idle subscribers that is 20,000 timers rearmed on every
 * message, against one interval. A PING goes out between `pingMs` and `pingMs` plus a quarter
 * of the shorter interval after the client last spoke.
 */
export function createWebSocketTransport<TRouter extends AnyTRPCRouter>(
  opts: WebSocketTransportOptions<TRouter>,
): WebSocketTransport {
  // Client tracking is ours (`connections`), so ws keeps no second set.
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload, perMessageDeflate: false, clientTracking: false });
  const connections = new Set<SocketWriter>();
  const frames = new EventFrames();
  const writes = new TurnWrites();
  const shared = {
    router: opts.router,
    // The router's root config (error formatter, transformer), which getTRPCErrorShape and
    // transformTRPCResponse take: typed on the public AnyRouter and read the same way by
    // tRPC's own adapters. The conformance test fails if a release moves it.
    config: opts.router._def._config,
    createContext: opts.createContext,
    onError: opts.onError,
    frames,
  };

  // A function of its own, so that what outlives the handshake (the close listener) does not
  // hold the upgrade request and its head buffer in a closure context.
  const serve = (ws: WebSocket, socket: Duplex, req: IncomingMessage): boolean => {
    if (ws.extensions !== '') {
      // Shared, pre-built messages and compression do not mix; never expected to happen.
      ws.close(1011, 'no WebSocket extensions are supported');
      return false;
    }
    const writer = new SocketWriter(ws, socket, writes);
    // Kept alive by the listeners it puts on `ws`, as long as the socket is.
    new TRPCConnection(writer, req, shared);
    connections.add(writer);
    ws.on('close', () => connections.delete(writer));
    return true;
  };

  const { pingMs, pongWaitMs } = opts.keepAlive;
  const sweep = setInterval(
    () => {
      const now = performance.now();
      for (const c of connections) c.keepAlive(now, pingMs, pongWaitMs);
    },
    Math.max(10, Math.min(pingMs, pongWaitMs) / 4),
  );
  sweep.unref();

  return {
    handleUpgrade(req, socket, head, onOpen) {
      wss.handleUpgrade(req, socket, head, (ws) => {
        if (serve(ws, socket, req)) onOpen?.(ws);
      });
    },
    broadcastReconnectNotification() {
      const notification: TRPCReconnectNotification = { id: null, method: 'reconnect' };
      const text = JSON.stringify(notification);
      for (const c of connections) c.send(text);
    },
    closeAll(code, reason) {
      for (const c of connections) c.close(code, reason);
    },
    terminateAll() {
      for (const c of connections) c.terminate();
    },
    bufferedBytes() {
      return [...connections].map((c) => c.bufferedAmount);
    },
    count() {
      return connections.size;
    },
    eventMessagesBuilt() {
      return frames.built;
    },
    stop() {
      clearInterval(sweep);
    },
  };
}
