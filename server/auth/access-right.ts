import { TRPCError } from '@trpc/server';

/**
 * How long a caller may go on being served. A static token's right never ends by itself; a
 * JWT's ends at its `exp`; a signed-in session's at its end (which a refresh moves later) or
 * when the person signs out. Streams ask for it so that none outlives the right that opened it.
 */
export interface AccessRight {
  /** Why the right has ended (`token expired`, `signed out`, …); undefined while it holds. */
  endedBecause(): string | undefined;
  /** Calls `listener` once, when the right ends (soon, if it has); returns a function that stops listening. */
  onEnd(listener: (reason: string) => void): () => void;
}

// setTimeout takes at most 2^31-1 ms (about 24.8 days); a longer wait is taken in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A right that ends at a fixed moment: a JWT's `exp`. One timer for all who watch it (the
 * subscriptions of one WebSocket share their connection's token), armed while anyone does.
 */
export class ExpiringRight implements AccessRight {
  readonly #listeners = new Set<(reason: string) => void>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    /** ms since the epoch */
    readonly expiresAt: number,
    private readonly reason: string,
  ) {}

  endedBecause(): string | undefined {
    return Date.now() >= this.expiresAt ? this.reason : undefined;
  }

  onEnd(listener: (reason: string) => void): () => void {
    if (this.endedBecause() !== undefined) {
      // Ended before anyone watched: told soon, not inside this call.
      let cancelled = false;
      queueMicrotask(() => cancelled || listener(this.reason));
      return () => (cancelled = true);
    }
    this.#listeners.add(listener);
    if (this.#timer === undefined) this.#arm();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  #arm() {
    const left = this.expiresAt - Date.now();
    if (left > 0) {
      this.#timer = setTimeout(() => this.#arm(), Math.min(left, MAX_TIMER_MS));
      this.#timer.unref();
      return;
    }
    this.#timer = undefined;
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    for (const listener of listeners) listener(this.reason);
  }
}

/** A right that holds until it is revoked: a static token, until a reload removes it. */
export class RevocableRight implements AccessRight {
  #ended: string | undefined;
  readonly #listeners = new Set<(reason: string) => void>();

  endedBecause(): string | undefined {
    return this.#ended;
  }

  onEnd(listener: (reason: string) => void): () => void {
    const ended = this.#ended;
    if (ended !== undefined) {
      queueMicrotask(() => listener(ended));
      return () => {};
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  revoke(reason: string): void {
    if (this.#ended !== undefined) return;
    this.#ended = reason;
    for (const listener of this.#listeners) listener(reason);
    this.#listeners.clear();
  }
}

/** The error a call or a stream gets once its right has ended. */
export const rightEndedError = (reason: string) =>
  new TRPCError({ code: 'UNAUTHORIZED', message: `${reason}: sign in again, or send a fresh token` });

/**
 * A subscription's signal, aborted also when `right` ends; `throwIfEnded()` after the stream
 * stops tells a stream cut short by its right (it ends with UNAUTHORIZED) from one the client
 * stopped (it just ends). `dispose()` stops watching.
 */
export function whileRightHolds(right: AccessRight | undefined, signal: AbortSignal) {
  if (!right) return { signal, throwIfEnded() {}, dispose() {} };
  // One controller fed by both, rather than AbortSignal.any (which costs about twice the memory
  // per subscriber, and subscribers are many and idle).
  const ended = new AbortController();
  let reason: string | undefined;
  const stop = () => {
    stopWatching();
    signal.removeEventListener('abort', onAbort);
  };
  const onAbort = () => {
    stop();
    ended.abort();
  };
  const stopWatching = right.onEnd((why) => {
    reason = why;
    signal.removeEventListener('abort', onAbort);
    ended.abort();
  });
  // However the subscription ends (even before it started), the watch ends with it.
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ended.signal,
    throwIfEnded() {
      if (reason !== undefined && !signal.aborted) throw rightEndedError(reason);
    },
    dispose: stop,
  };
}
