import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../../../server/routers/app.ts';
import type { CreateOrderInput, Order } from '../../../shared/orders.ts';

/** How long the page keeps asking about a create whose outcome it does not know. */
const IN_DOUBT_FOR_MS = 60_000;
const FIRST_PAUSE_MS = 250;
const MAX_PAUSE_MS = 4_000;

/**
 * The server could not say whether the write happened ("commit outcome unknown"), or no
 * answer came back at all (the request may have arrived): either way the order may exist.
 */
function inDoubt(err: unknown): boolean {
  if (!(err instanceof TRPCClientError)) return false;
  const error = err as TRPCClientError<AppRouter>;
  return !error.data || error.message.startsWith('commit outcome unknown');
}

/** "database unavailable: nothing was written": this attempt did nothing; an earlier one may have. */
function nothingWritten(err: unknown): boolean {
  return err instanceof TRPCClientError && err.message.startsWith('database unavailable');
}

/**
 * Sends a create with an idempotency key of its own, so that it can be sent again safely:
 * when its outcome is unknown, it is sent again with the same key (with backoff and jitter)
 * until the server answers for that key, and the answer is the one order, made once. An
 * attempt that wrote nothing says nothing about the attempt in doubt before it, so those are
 * retried too; any other refusal ends it.
 */
export async function createOnce(send: (input: CreateOrderInput) => Promise<Order>, input: CreateOrderInput): Promise<Order> {
  const keyed = { ...input, idempotencyKey: input.idempotencyKey ?? crypto.randomUUID() };
  try {
    return await send(keyed);
  } catch (err) {
    if (!inDoubt(err)) throw err;
    const deadline = Date.now() + IN_DOUBT_FOR_MS;
    let last = err;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const pause = Math.random() * Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * 2 ** attempt);
      await new Promise((resolve) => setTimeout(resolve, pause));
      try {
        return await send(keyed);
      } catch (retryError) {
        if (!inDoubt(retryError) && !nothingWritten(retryError)) throw retryError;
        last = retryError;
      }
    }
    throw last;
  }
}
