import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { bearerToken, type Authenticator, type Principal } from '../auth/principal.ts';
import type { RateLimiter } from '../auth/rate-limit.ts';
import type { Database } from '../db/client.ts';
import type { EventHub } from '../events/hub.ts';
import { outbound } from '../coalesce-writes.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { IdentifyRequest } from '../request-identity.ts';

/** What procedures run with; built once at start-up and shared by every request. */
export type Services = {
  db: Database;
  hub: EventHub;
  log: Logger;
  auth: Authenticator;
  writeLimiter: RateLimiter;
  metrics: Metrics;
};

/** The slice of a WebSocket a subscription needs: backpressure, and writing its own frames. */
export type Outbound = {
  readonly bufferedAmount: number;
  readonly readyState: number;
  /** Writes one complete WebSocket frame; dropped once the socket is not open. */
  writeFrame(frame: Buffer): void;
  /** Resolves when what is buffered has been handed to the kernel, the socket closed, or `signal` aborted. */
  drained(signal: AbortSignal): Promise<void>;
};

export type Context = Services & {
  /** The caller, or undefined when a token was required and missing or unknown. */
  principal: Principal | undefined;
  /** Where the request came from (behind a trusted proxy, the client it forwards for): the rate limit's key when access control is off. */
  clientAddress: string;
  /** The id of the HTTP request (or the WebSocket's upgrade request) in the logs. */
  requestId: string;
  /** The WebSocket the request came on; absent over HTTP. */
  socket?: Outbound;
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
 * in logs). The ws adapter builds one context per connection and passes the socket as `res`.
 */
export function createContextFactory(services: Services, identify: IdentifyRequest): (opts: ContextOptions) => Context {
  return ({ req, res, info }) => {
    // Over HTTP (SSE included) tRPC reads connectionParams from the URL: not a place for a
    // secret, so only the header counts there.
    const param = res instanceof WebSocket ? info?.connectionParams?.token : undefined;
    const secret = typeof param === 'string' ? param : bearerToken(req.headers.authorization);
    const { clientAddress, requestId } = identify(req);
    const ctx: Context = {
      ...services,
      principal: services.auth.authenticate(secret),
      clientAddress,
      requestId,
      subscriptions: { open: 0 },
    };
    if (res instanceof WebSocket) ctx.socket = outbound(res);
    return ctx;
  };
}
