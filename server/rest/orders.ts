/*
 * The seed's REST API, kept for curl and Postman: snake_case in and out. Every route goes
 * through the tRPC procedures (via a server-side caller), so validation, events and errors
 * are the same as over tRPC.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { Order } from '../../shared/orders.ts';
import { isCommitOutcomeUnknown, isDatabaseUnavailable } from '../db/errors.ts';
import type { Logger } from '../logger.ts';
import { appRouter } from '../routers/app.ts';
import type { Context } from '../trpc/context.ts';
import { describeValidationError, logError, toPublicError } from '../trpc/errors.ts';
import { createCallerFactory, RateLimitedError } from '../trpc/init.ts';
import { readJsonBody, sendJson, HttpError } from './http.ts';

const createCaller = createCallerFactory(appRouter);

const SNAKE_TO_CAMEL: Record<string, string> = {
  customer_name: 'customerName',
  product_name: 'productName',
  expected_version: 'expectedVersion',
  idempotency_key: 'idempotencyKey',
  as_of: 'asOf',
};
const CAMEL_TO_SNAKE = Object.fromEntries(Object.entries(SNAKE_TO_CAMEL).map(([s, c]) => [c, s]));

function toRestOrder(o: Order) {
  return {
    id: o.id,
    customer_name: o.customerName,
    product_name: o.productName,
    status: o.status,
    version: o.version,
    created_at: o.createdAt,
    updated_at: o.updatedAt,
  };
}

/** Renames snake_case keys to the API's names; unknown keys pass through and are refused by validation. */
function fromRestBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'the body must be a JSON object');
  }
  return Object.fromEntries(
    Object.entries(body).map(([k, v]) => {
      const snake = CAMEL_TO_SNAKE[k];
      if (snake) throw new HttpError(400, `unknown field: ${k} (REST speaks snake_case: ${snake})`);
      return [SNAKE_TO_CAMEL[k] ?? k, v];
    }),
  );
}

function sendError(res: ServerResponse, log: Logger, err: unknown): void {
  if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message });
  const trpcError = err instanceof TRPCError ? err : new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: err });
  logError(log, trpcError, 'rest');
  if (trpcError.cause instanceof z.ZodError) {
    return sendJson(res, 400, { error: describeValidationError(trpcError.cause, (k) => CAMEL_TO_SNAKE[k] ?? k) });
  }
  if (isCommitOutcomeUnknown(trpcError)) {
    return sendJson(res, 503, { error: toPublicError(trpcError).message, outcome: 'unknown' });
  }
  if (isDatabaseUnavailable(trpcError)) return sendJson(res, 503, { error: 'database unavailable' });
  if (trpcError.cause instanceof RateLimitedError) res.setHeader('retry-after', String(trpcError.cause.retryAfterSeconds));
  sendJson(res, getHTTPStatusCodeFromError(trpcError), { error: toPublicError(trpcError).message });
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `id: "${segment}" is not a valid URL path segment`);
  }
}

const ORDER_PATH = /^\/api\/orders\/([^/]+)\/?$/;

/**
 * Handles `/api/orders` and `/api/orders/:id`; returns false for any other path.
 * `maxBodyBytes` bounds what is read of a request body.
 */
export function createRestHandler(context: (opts: { req: IncomingMessage }) => Promise<Context>, maxBodyBytes: number) {
  return async function handleRest(req: IncomingMessage, res: ServerResponse, pathname: string, query: URLSearchParams): Promise<boolean> {
    const collection = pathname === '/api/orders' || pathname === '/api/orders/';
    const item = ORDER_PATH.exec(pathname);
    if (!collection && !item) return false;

    const ctx = await context({ req });
    const caller = createCaller(ctx);
    try {
      if (collection) {
        if (req.method === 'GET') {
          const limit = query.get('limit');
          const page = await caller.orders.list({
            status: (query.get('status') ?? undefined) as Order['status'] | undefined,
            limit: limit === null ? undefined : Number(limit),
            cursor: query.get('cursor') ?? undefined,
            asOf: query.get('as_of') ?? undefined,
          });
          sendJson(res, 200, {
            orders: page.orders.map(toRestOrder),
            next_cursor: page.nextCursor,
            last_event_id: page.lastEventId,
          });
        } else if (req.method === 'POST') {
          const input = fromRestBody(await readJsonBody(req, maxBodyBytes));
          const order = await caller.orders.create(input as never);
          sendJson(res, 201, toRestOrder(order));
        } else {
          throw new HttpError(405, `${req.method} is not allowed on /api/orders (use GET or POST)`);
        }
        return true;
      }

      const id = decodePathSegment(item![1]!);
      if (req.method === 'GET') {
        sendJson(res, 200, toRestOrder(await caller.orders.get({ id })));
      } else if (req.method === 'PUT' || req.method === 'PATCH' || req.method === 'POST') {
        const input = fromRestBody(await readJsonBody(req, maxBodyBytes));
        sendJson(res, 200, toRestOrder(await caller.orders.update({ ...input, id } as never)));
      } else if (req.method === 'DELETE') {
        const version = query.get('expected_version');
        sendJson(res, 200, await caller.orders.delete({ id, expectedVersion: version === null ? undefined : Number(version) }));
      } else {
        throw new HttpError(405, `${req.method} is not allowed on /api/orders/:id (use GET, PUT, PATCH, POST or DELETE)`);
      }
    } catch (err) {
      sendError(res, ctx.log, err);
    }
    return true;
  };
}
