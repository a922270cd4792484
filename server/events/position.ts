/**
 * Positions are bigints written as decimal strings without leading zeros, so comparing length
 * then text orders them without parsing (this runs per event per subscriber).
 */
export function isAfter(a: string, b: string): boolean {
  return a.length !== b.length ? a.length > b.length : a > b;
}
