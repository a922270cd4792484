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

/** Waits `ms`, or less if `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return new Promise((resolve) => setTimeout(resolve, ms));
  return untilWoken(signal, (wake) => {
    const timer = setTimeout(wake, ms);
    return () => clearTimeout(timer);
  });
}
