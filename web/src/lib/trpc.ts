import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  splitLink,
  wsLink,
  type OperationLink,
  type TRPCLink,
  type TRPCWebSocketClient,
} from '@trpc/client';
import { createSignal } from 'solid-js';
import type { AppRouter } from '../../../server/routers/app.ts';
import { TRPC_PATH } from '../../../shared/protocol.ts';

// Capped, jittered backoff: the first retry is quick (a blip), later ones spread out so a
// fleet of tabs does not hammer a server that is coming back.
const retryDelayMs = (attempt: number) => {
  const base = Math.min(250 * 2 ** attempt, 5_000);
  return Math.round(base / 2 + Math.random() * (base / 2));
};

const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${TRPC_PATH}`;

// The access token lives for this tab only: sessionStorage, never localStorage (it would
// outlive the tab) nor the URL (it would end up in history and server logs).
const TOKEN_KEY = 'live-orders.token';

function readStoredToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || null;
  } catch {
    return null; // storage disabled: the token lasts until the page is left
  }
}

function storeToken(token: string | null) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: nothing to keep or forget
  }
}

// The WebSocket sends its token once, as tRPC connectionParams when the socket opens, so a
// new token needs a new socket.
const openSocket = (token: string | null) =>
  createWSClient({ url: wsUrl, retryDelayMs, connectionParams: token ? { token } : undefined });

const [token, setTokenSignal] = createSignal<string | null>(readStoredToken());
const [wsClient, setWsClient] = createSignal<TRPCWebSocketClient>(openSocket(token()));

export const session = {
  /** The access token in use, or null. */
  token,
  /** The socket subscriptions run on; its `connectionState` drives the connection indicator. */
  wsClient,
  /**
   * Uses `next` from now on (null: none). Replaces the socket, so stop subscriptions first:
   * the old socket is closed here.
   */
  setToken(next: string | null) {
    storeToken(next);
    if (next === token()) return;
    const old = wsClient();
    setTokenSignal(next);
    setWsClient(openSocket(next));
    void old.close();
  },
};

/** Forwards each subscription to the socket current when it starts. */
const currentSocketLink: TRPCLink<AppRouter> = (runtime) => {
  let builtFor: TRPCWebSocketClient | null = null;
  let link: OperationLink<AppRouter> | null = null;
  return (opts) => {
    const client = wsClient();
    if (!link || builtFor !== client) {
      link = wsLink<AppRouter>({ client })(runtime);
      builtFor = client;
    }
    return link(opts);
  };
};

/** Subscriptions over the WebSocket, queries and mutations over batched HTTP (same origin). */
export const trpc = createTRPCClient<AppRouter>({
  links: [
    splitLink({
      condition: (op) => op.type === 'subscription',
      true: currentSocketLink,
      false: httpBatchLink({
        url: TRPC_PATH,
        headers: () => {
          const t = token();
          return t ? { authorization: `Bearer ${t}` } : {};
        },
      }),
    }),
  ],
});
