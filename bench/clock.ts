/**
 * Wall-clock milliseconds with sub-millisecond resolution. Every bench process and the
 * server run on one machine, so this is comparable across processes; Date.now() alone would
 * round every latency to whole milliseconds, too coarse for a 3 ms target.
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
