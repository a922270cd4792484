import { untilWoken } from './until-woken.ts';

const BASE_MS = 100;
const MAX_MS = 5_000;

/**
 * Exponential backoff with full jitter, capped: 0-100 ms, 0-200 ms, … 0-5 s. The jitter keeps
 * many nodes and subscribers from hammering a database that just came back all at once.
 */
export function backoffDelay(attempt: number): number {
  return Math.random() * Math.min(MAX_MS, BASE_MS * 2 ** attempt);
}

/**
 * Seconds before postgres.js makes a connection again after the `n`th failed one in a row
 * (its `backoff` option; the count is shared by a whole pool and reset by a successful
 * connect). Its own default grows to 10-20 s within seconds of an outage, so a node kept
 * answering "database unavailable" that long after the database was back. Ours stops at a
 * second: a pool of ten retrying once a second does not burden a database coming up.
 */
export function reconnectBackoffSeconds(n: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.02 * 2 ** n, 1);
}

/** Waits `ms`, or less if `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return new Promise((resolve) => setTimeout(resolve, ms));
  return untilWoken(signal, (wake) => {
    const timer = setTimeout(wake, ms);
    return () => clearTimeout(timer);
  });
}
