import { createTRPCClient, createWSClient, httpBatchLink, splitLink, wsLink } from '@trpc/client';
import type { AppRouter } from '../../../server/routers/app.ts';
import { TRPC_PATH } from '../../../shared/protocol.ts';

// Capped, jittered backoff: the first retry is quick (a blip), later ones spread out so a
// fleet of tabs does not hammer a server that is coming back.
const retryDelayMs = (attempt: number) => {
  const base = Math.min(250 * 2 ** attempt, 5_000);
  return Math.round(base / 2 + Math.random() * (base / 2));
};

const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${TRPC_PATH}`;

/** The socket subscriptions run on; its `connectionState` drives the connection indicator. */
export const wsClient = createWSClient({ url: wsUrl, retryDelayMs });

/** Subscriptions over the WebSocket, queries and mutations over batched HTTP (same origin). */
export const trpc = createTRPCClient<AppRouter>({
  links: [
    splitLink({
      condition: (op) => op.type === 'subscription',
      true: wsLink({ client: wsClient }),
      false: httpBatchLink({ url: TRPC_PATH }),
    }),
  ],
});
