import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseCookie, stringifySetCookie } from 'cookie';

/**
 * The session cookie: HttpOnly (the page's JavaScript never sees it), SameSite=Lax (a
 * cross-site POST does not carry it; the redirect back from the identity provider, a
 * top-level GET, does) and, over https, Secure with the `__Host-` prefix (no other host or
 * path can set or shadow it).
 */
export function sessionCookie(secure: boolean) {
  const name = secure ? '__Host-live_orders_session' : 'live_orders_session';
  const base = { httpOnly: true, sameSite: 'lax', secure, path: '/' } as const;
  return {
    name,
    read(req: IncomingMessage): string | undefined {
      const header = req.headers.cookie;
      return header ? parseCookie(header)[name] : undefined;
    },
    set(res: ServerResponse, value: string, maxAgeMs: number): void {
      appendSetCookie(res, stringifySetCookie(name, value, { ...base, maxAge: Math.max(0, Math.floor(maxAgeMs / 1000)) }));
    },
    clear(res: ServerResponse): void {
      appendSetCookie(res, stringifySetCookie(name, '', { ...base, maxAge: 0 }));
    },
  };
}

export type SessionCookie = ReturnType<typeof sessionCookie>;

/** Adds a Set-Cookie header beside any already set. */
export function appendSetCookie(res: ServerResponse, cookie: string): void {
  const existing = res.getHeader('set-cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('set-cookie', [...list, cookie]);
}
