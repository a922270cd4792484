import { DatabaseUnavailableError } from './db/errors.ts';

/**
 * How long a query on a recovery path (the listener's read of the log, a subscriber's read
 * after falling behind or reconnecting) may take before it counts as the database being
 * away. After a failover a connection to the old primary can hang rather than fail (its host
 * gone without a reset); the reader must not wait on it for good, but retry (with backoff)
 * on a fresh connection, which finds the new primary.
 */
export const RECOVERY_QUERY_TIME_LIMIT_MS = 10_000;

/**
 * `work`, or DatabaseUnavailableError once `ms` have passed, whichever comes first; callers
 * already retry that one. The query itself is not cancelled (its connection may be the one
 * that hangs); the caller just stops waiting for it.
 */
export function withTimeLimit<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseUnavailableError(new Error(`${what} took longer than ${ms} ms`))), ms);
  });
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}
