/**
 * Mutations per second per key (a token's name, or a client address when access control is
 * off), as token buckets: a key may burst up to one second's worth, then gets `rate` per
 * second. Buckets idle for a minute are forgotten, so the map stays small.
 */
export function createRateLimiter(rate: number, now: () => number = Date.now) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();

  return {
    enabled: rate > 0,
    /** Takes `cost` from the key's bucket; returns 0 if allowed, else seconds until it would be. */
    take(key: string, cost = 1): number {
      if (rate <= 0) return 0;
      const t = now();
      if (t - lastSweep > 60_000) {
        for (const [k, b] of buckets) if (t - b.at > 60_000) buckets.delete(k);
        lastSweep = t;
      }
      const bucket = buckets.get(key) ?? { tokens: rate, at: t };
      bucket.tokens = Math.min(rate, bucket.tokens + ((t - bucket.at) / 1000) * rate);
      bucket.at = t;
      buckets.set(key, bucket);
      if (bucket.tokens >= cost) {
        bucket.tokens -= cost;
        return 0;
      }
      return Math.max(1, Math.ceil((cost - bucket.tokens) / rate));
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
