import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  httpSubscriptionLink,
  splitLink,
  wsLink,
  type TRPCClient,
  type TRPCLink,
} from '@trpc/client';
import { EventSource as FetchEventSource } from 'eventsource';
import type { AppRouter } from './app-router.ts';
import { authorizationHeader, TRPC_PATH, type Transport } from '../../../shared/protocol.ts';

/** How `orders.onChange` reaches the client. Queries and mutations always go over HTTP. */
export type { Transport };

/**
 * A token, or a function read on every request and every (re)connect, so it can change. It
 * may return a promise: a short-lived JWT fetched from the identity provider when asked for.
 */
export type TokenSource = string | null | undefined | (() => string | null | undefined | Promise<string | null | undefined>);

export type WebSocketConstructor = typeof globalThis.WebSocket;

export type ConnectOptions = {
  /** The server's base URL, `http://host:port` (the tRPC path is added). */
  url: string;
  token?: TokenSource;
  transport: Transport;
  /** For runtimes without a global WebSocket (Node 20): pass the `ws` package. */
  WebSocket?: WebSocketConstructor;
  retryDelayMs: (attempt: number) => number;
};

/** The typed tRPC client of a server: queries and mutations (and subscriptions). */
export type Api = TRPCClient<AppRouter>;

export type Connection = {
  api: Api;
  close(): Promise<void>;
};

export const readToken = async (token: TokenSource): Promise<string | null> => (typeof token === 'function' ? await token() : token) || null;

/**
 * A tRPC client for one transport. The token goes where the server reads it: an
 * `Authorization` header over HTTP and SSE, tRPC `connectionParams` over WebSocket; never
 * the URL, which ends up in logs.
 */
export function connect(options: ConnectOptions): Connection {
  const base = options.url.replace(/\/+$/, '');
  const httpUrl = `${base}${TRPC_PATH}`;
  const authHeaders = async () => authorizationHeader(await readToken(options.token));
  const http = httpBatchLink({ url: httpUrl, headers: authHeaders });

  let subscriptions: TRPCLink<AppRouter>;
  let close = async () => {};
  if (options.transport === 'websocket') {
    const WebSocket = options.WebSocket ?? globalThis.WebSocket;
    if (!WebSocket) throw new Error('live-orders-client: this runtime has no WebSocket; pass `WebSocket` (the `ws` package) or use transport "sse"');
    const ws = createWSClient({
      url: toWebSocketUrl(httpUrl),
      WebSocket,
      retryDelayMs: options.retryDelayMs,
      // Called on every (re)connect, so a changed token is sent with the next socket.
      connectionParams: async () => {
        const token = await readToken(options.token);
        return token ? { token } : null;
      },
    });
    subscriptions = wsLink<AppRouter>({ client: ws });
    close = () => ws.close();
  } else {
    subscriptions = httpSubscriptionLink<AppRouter, typeof FetchEventSource>({
      url: httpUrl,
      // The `eventsource` package rather than the browser's own EventSource: only it can send
      // the Authorization header (the browser's would need the token in the URL).
      EventSource: FetchEventSource,
      eventSourceOptions: () => ({
        fetch: async (input, init) => fetch(input, { ...init, headers: { ...init.headers, ...(await authHeaders()) } }),
      }),
    });
  }

  const api = createTRPCClient<AppRouter>({
    links: [splitLink({ condition: (op) => op.type === 'subscription', true: subscriptions, false: http })],
  });
  return { api, close };
}

function toWebSocketUrl(httpUrl: string): string {
  if (/^https?:\/\//.test(httpUrl)) return httpUrl.replace(/^http/, 'ws');
  // A path alone (a page served by the server itself): the page's own host.
  const { protocol, host } = globalThis.location;
  return `${protocol === 'https:' ? 'wss' : 'ws'}://${host}${httpUrl}`;
}
