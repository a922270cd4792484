import type { IncomingMessage, ServerResponse } from 'node:http';
import { TRPC_PATH } from '../shared/protocol.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { RequestIdentity } from './request-identity.ts';

/** Probed every second or so by load balancers and Prometheus: logged at debug, not info. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);
const MAX_LOGGED_NAME = 200;
/** The page's sign-in (auth/sign-in.ts): each its own route. */
const SIGN_IN_ROUTES = new Set(['/auth/session', '/auth/login', '/auth/callback', '/auth/refresh', '/auth/logout']);

/**
 * A request's route as a label: a fixed set, whatever the path, so a client cannot grow the
 * metrics without bound. REST ids become `:id`; tRPC requests are all `/trpc` (their
 * procedures are in the log line and in the procedure durations).
 */
export function routeOf(pathname: string, status: number): string {
  if (pathname === TRPC_PATH || pathname.startsWith(`${TRPC_PATH}/`)) return TRPC_PATH;
  if (PROBES.has(pathname) || SIGN_IN_ROUTES.has(pathname)) return pathname;
  if (/^\/api\/orders\/?$/.test(pathname)) return '/api/orders';
  if (/^\/api\/orders\/[^/]+\/?$/.test(pathname)) return '/api/orders/:id';
  if (!pathname.startsWith('/api/') && status < 400) return 'page';
  return 'unmatched';
}

/** The procedures a tRPC HTTP request names (`orders.list,orders.get` for a batch). */
function proceduresOf(pathname: string): string | undefined {
  if (!pathname.startsWith(`${TRPC_PATH}/`)) return undefined;
  const names = pathname.slice(TRPC_PATH.length + 1);
  try {
    return decodeURIComponent(names).slice(0, MAX_LOGGED_NAME);
  } catch {
    return names.slice(0, MAX_LOGGED_NAME); // a malformed escape: logged as sent
  }
}

/**
 * One JSON line per HTTP request once its response is done (or the client went away), and
 * its duration in the metrics. What is logged: method, route, procedures, status, duration,
 * client address and request id. Never headers (Authorization), query strings (tRPC inputs)
 * or bodies.
 */
export function trackRequest(
  log: Logger,
  metrics: Metrics,
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  identity: RequestIdentity,
): void {
  const started = performance.now();
  res.setHeader('x-request-id', identity.requestId);
  res.once('close', () => {
    const seconds = (performance.now() - started) / 1000;
    const route = routeOf(pathname, res.statusCode);
    const method = req.method ?? 'GET';
    metrics.requestObserved(route, method, res.statusCode, seconds);
    const line = {
      requestId: identity.requestId,
      method,
      route,
      procedure: proceduresOf(pathname),
      status: res.statusCode,
      ms: Math.round(seconds * 10_000) / 10,
      client: identity.clientAddress,
      ...(res.writableFinished ? {} : { aborted: true }),
    };
    if (PROBES.has(pathname)) log.debug(line, 'request');
    else log.info(line, 'request');
  });
}

/** The line for a WebSocket upgrade: accepted (101) or refused, and why. */
export function logUpgrade(log: Logger, identity: RequestIdentity, status: number, started: number, reason?: string): void {
  log.info(
    {
      requestId: identity.requestId,
      method: 'GET',
      route: TRPC_PATH,
      transport: 'websocket',
      status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      client: identity.clientAddress,
      ...(reason ? { reason } : {}),
    },
    'request',
  );
}
