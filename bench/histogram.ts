/**
 * A latency histogram small enough to send between processes: 0.05 ms buckets up to 100 ms,
 * then 1 ms buckets up to 60 s. Percentiles are read at the bucket's upper edge, so they
 * err on the slow side by at most one bucket.
 */
const FINE_MS = 0.05;
const FINE_LIMIT_MS = 100;
const FINE_BUCKETS = FINE_LIMIT_MS / FINE_MS;
const COARSE_LIMIT_MS = 60_000;
const BUCKETS = FINE_BUCKETS + (COARSE_LIMIT_MS - FINE_LIMIT_MS);

export type Histogram = { counts: number[]; count: number; max: number; sum: number };

export function emptyHistogram(): Histogram {
  return { counts: new Array<number>(BUCKETS).fill(0), count: 0, max: 0, sum: 0 };
}

function bucketOf(ms: number): number {
  // Loopback clocks agree, but a receive can be stamped a hair before the writer's "after COMMIT".
  const v = Math.max(0, ms);
  if (v < FINE_LIMIT_MS) return Math.floor(v / FINE_MS);
  return Math.min(BUCKETS - 1, FINE_BUCKETS + Math.floor(v - FINE_LIMIT_MS));
}

function upperEdge(bucket: number): number {
  return bucket < FINE_BUCKETS ? (bucket + 1) * FINE_MS : FINE_LIMIT_MS + (bucket - FINE_BUCKETS + 1);
}

export function record(h: Histogram, ms: number): void {
  h.counts[bucketOf(ms)]!++;
  h.count++;
  h.sum += ms;
  if (ms > h.max) h.max = ms;
}

export function merge(into: Histogram, from: Histogram): void {
  for (let i = 0; i < BUCKETS; i++) into.counts[i]! += from.counts[i] ?? 0;
  into.count += from.count;
  into.sum += from.sum;
  into.max = Math.max(into.max, from.max);
}

export function percentile(h: Histogram, p: number): number {
  if (h.count === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * h.count);
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += h.counts[i]!;
    if (seen >= rank) return Math.min(upperEdge(i), h.max);
  }
  return h.max;
}

export type LatencySummary = { p50: number; p90: number; p99: number; max: number; count: number };

export function summarize(h: Histogram): LatencySummary {
  return { p50: percentile(h, 50), p90: percentile(h, 90), p99: percentile(h, 99), max: h.max, count: h.count };
}

/** Only the non-empty buckets, so a histogram crosses IPC as a few hundred numbers. */
export type PackedHistogram = { buckets: Array<[number, number]>; count: number; max: number; sum: number };

export function pack(h: Histogram): PackedHistogram {
  const buckets: Array<[number, number]> = [];
  h.counts.forEach((c, i) => {
    if (c > 0) buckets.push([i, c]);
  });
  return { buckets, count: h.count, max: h.max, sum: h.sum };
}

export function unpack(p: PackedHistogram): Histogram {
  const h = emptyHistogram();
  for (const [i, c] of p.buckets) h.counts[i] = c;
  h.count = p.count;
  h.max = p.max;
  h.sum = p.sum;
  return h;
}
