/**
 * Capped, jittered backoff: the first retry is quick (a blip), later ones spread out so a
 * fleet of clients does not hammer a server that is coming back.
 */
export function backoffMs(attempt: number): number {
  const base = Math.min(250 * 2 ** attempt, 5_000);
  return Math.round(base / 2 + Math.random() * (base / 2));
}
