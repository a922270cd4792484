import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import type { Credentials } from '../auth/credentials.ts';
import type { Principal } from '../auth/principal.ts';
import type { AuthRefusal } from '../auth/refusal.ts';
import type { RateLimiter } from '../auth/rate-limit.ts';
import type { Database } from '../db/client.ts';
import type { CreateBatcher } from '../db/create-batcher.ts';
import type { EventHub } from '../events/hub.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { IdentifyRequest } from '../request-identity.ts';

/** What procedures run with; built once at start-up and shared by every request. */
export type Services = {
  db: Database;
  /** `orders.create` without an idempotency key: concurrent creates share a transaction. */
  creates: CreateBatcher;
  hub: EventHub;
  log: Logger;
  auth: Credentials;
  writeLimiter: RateLimiter;
  metrics: Metrics;
  /**
   * Awaited after each mutation that succeeded: sequenced ordering positions its events at
   * once, so the answer comes when they are in the log, as in commit ordering. Absent there.
   */
  writeCommitted?: () => Promise<void>;
};

export type Context = Services & {
  /** The caller, or undefined when a credential was required and missing or refused. */
  principal: Principal | undefined;
  /** Why, when `principal` is undefined: the code and message the caller gets. */
  refusal?: AuthRefusal;
  /** Where the request came from (behind a trusted proxy, the client it forwards for): the rate limit's key when access control is off. */
  clientAddress: string;
  /** The id of the HTTP request (or the WebSocket's upgrade request) in the logs. */
  requestId: string;
  /** Whether the call came over a WebSocket (the logs and metrics say which transport). */
  overWebSocket: boolean;
  /** Open subscriptions on this WebSocket (the context lives as long as the connection). */
  subscriptions: { open: number };
};

type ContextOptions = {
  req: IncomingMessage;
  res?: unknown;
  info?: { connectionParams?: Record<string, string | undefined> | null };
};

/**
 * Builds a request's context. HTTP callers (queries, mutations, SSE subscriptions)
 * authenticate with `Authorization: Bearer`;
 * WebSocket callers with tRPC's `connectionParams: { token }` (never the URL, which ends up
 * in logs). The WebSocket transport builds one context per connection.
 */
export function createContextFactory(services: Services, identify: IdentifyRequest): (opts: ContextOptions) => Promise<Context> {
  return async ({ req, res, info }) => {
    // Over HTTP (SSE included) tRPC reads connectionParams from the URL: not a place for a
    // secret, so only the header counts there. Without either, the session cookie (credentials.ts).
    const param = res instanceof WebSocket ? info?.connectionParams?.token : undefined;
    const { clientAddress, requestId } = identify(req);
    const { principal, refusal } = await services.auth.authenticate(req, typeof param === 'string' && param ? param : undefined);
    const ctx: Context = {
      ...services,
      principal,
      refusal,
      clientAddress,
      requestId,
      overWebSocket: res instanceof WebSocket,
      subscriptions: { open: 0 },
    };
    return ctx;
  };
}
