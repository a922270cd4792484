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
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
