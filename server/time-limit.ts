import { DatabaseUnavailableError } from './db/errors.ts';

/**
 * How long a read of the log on a recovery path may take before it counts as the database
 * being away: the listener's, after it reconnects, and a subscriber's, after it fell behind
 * or reconnected. After a failover a connection to the old primary can hang rather than fail
 * (its host gone without a reset); the reader must not wait on it for good, but retry (with
 * backoff) on a fresh connection, which finds the new primary.
 *
 * The listener reads an unfiltered page by primary key, which takes milliseconds. A
 * subscriber's page may be filtered by status, which is not indexed, and scan far to fill
 * it, so it gets longer: a limit it hit on a healthy database would make it retry forever.
 */
export const LISTENER_READ_TIME_LIMIT_MS = 10_000;
export const SUBSCRIBER_READ_TIME_LIMIT_MS = 60_000;

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
