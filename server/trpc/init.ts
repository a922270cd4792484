import { initTRPC, TRPCError } from '@trpc/server';
import { SSE_PING_INTERVAL_MS, SSE_RECONNECT_AFTER_INACTIVITY_MS } from '../../shared/protocol.ts';
import { rightEndedError } from '../auth/access-right.ts';
import type { Context } from './context.ts';
import { toPublicError } from './errors.ts';

const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error }) {
    const { message, fieldErrors } = toPublicError(error);
    return { ...shape, message, data: { ...shape.data, stack: undefined, fieldErrors } };
  },
  // Subscriptions over HTTP (httpSubscriptionLink): pings keep proxies from closing a quiet
  // stream, and tell the client how long silence may last before it reconnects.
  sse: {
    ping: { enabled: true, intervalMs: SSE_PING_INTERVAL_MS },
    client: { reconnectAfterInactivityMs: SSE_RECONNECT_AFTER_INACTIVITY_MS },
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Over the rate limit; `retryAfterSeconds` becomes the Retry-After header. */
export class RateLimitedError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`too many writes: retry in ${retryAfterSeconds} s`);
  }
}

/**
 * Every call's duration in the metrics, by procedure. Over HTTP the request's own log line
 * names the procedures; a call over a WebSocket has no HTTP request, so it gets its line here.
 * A subscription's setup is logged but not timed: its life is not a request's duration.
 */
const observedProcedure = t.procedure.use(async ({ ctx, path, type, next }) => {
  const started = performance.now();
  const result = await next();
  const seconds = (performance.now() - started) / 1000;
  const code = result.ok ? 'OK' : result.error.code;
  const transport = ctx.overWebSocket ? 'websocket' : 'http';
  if (type !== 'subscription') ctx.metrics.procedureObserved(path, type, transport, code, seconds);
  if (ctx.overWebSocket) {
    ctx.log.info(
      { requestId: ctx.requestId, transport, procedure: path, type, code, ms: Math.round(seconds * 10_000) / 10, client: ctx.clientAddress },
      'request',
    );
  }
  return result;
});

/** Queries and subscriptions: any valid token (or none, with access control off). */
export const readProcedure = observedProcedure.use(({ ctx, next }) => {
  if (!ctx.principal) {
    throw new TRPCError({
      code: ctx.refusal?.code ?? 'UNAUTHORIZED',
      message: ctx.refusal?.message ?? 'a valid token is required: send Authorization: Bearer <token> (WebSocket: connectionParams.token)',
    });
  }
  // A WebSocket's context outlives the JWT or session it was opened with: asked on every call.
  const ended = ctx.principal.right?.endedBecause();
  if (ended !== undefined) throw rightEndedError(ended);
  return next({ ctx: { principal: ctx.principal } });
});

/** Mutations: a writer's token, within the write rate. The caller is recorded on the events. */
export const writeProcedure = readProcedure.use(async ({ ctx, next }) => {
  if (ctx.principal.role !== 'writer') {
    throw new TRPCError({ code: 'FORBIDDEN', message: `"${ctx.principal.name}" is a reader and cannot change orders` });
  }
  const key = ctx.auth.enabled ? `token:${ctx.principal.name}` : `address:${ctx.clientAddress}`;
  const retryAfter = ctx.writeLimiter.take(key);
  if (retryAfter > 0) {
    const cause = new RateLimitedError(retryAfter);
    throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: cause.message, cause });
  }
  const result = await next({ ctx: { actor: ctx.principal.name } });
  if (result.ok) await ctx.writeCommitted?.();
  return result;
});
