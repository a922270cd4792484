/** Same origin (the Origin's host is the Host the request was sent to), or one of the allowed (ALLOWED_ORIGINS). */
export function originAllowed(origin: string, host: string | undefined, allowed: readonly string[] | undefined): boolean {
  if (allowed) return allowed.includes(origin);
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
