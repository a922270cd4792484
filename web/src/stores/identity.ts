import { createSignal } from 'solid-js';

/** What GET /auth/session answers (server/auth/sign-in.ts). */
type SessionStatus = {
  signIn: { provider: string } | null;
  session: { name: string; role: string; expiresAt: string } | null;
};

/** A refresh goes out once this share of the session's remaining time has passed. */
const REFRESH_AT = 0.75;
const MIN_REFRESH_DELAY_MS = 1_000;

/**
 * The person signed in with the shop's identity provider, if any. The session itself is an
 * HttpOnly cookie this code never sees: every request (and the WebSocket) carries it. This
 * store learns who it is from GET /auth/session, refreshes it before it ends (the server asks
 * the provider again), and signs out.
 */
export function createIdentity() {
  const [status, setStatus] = createSignal<SessionStatus>({ signIn: null, session: null });
  let timer: ReturnType<typeof setTimeout> | undefined;

  const apply = (next: SessionStatus) => {
    setStatus(next);
    clearTimeout(timer);
    if (!next.session) return;
    const left = Date.parse(next.session.expiresAt) - Date.now();
    timer = setTimeout(() => void refresh(), Math.max(MIN_REFRESH_DELAY_MS, left * REFRESH_AT));
  };

  const refresh = async () => {
    try {
      const response = await fetch('/auth/refresh', { method: 'POST' });
      if (response.ok) return apply((await response.json()) as SessionStatus);
      if (response.status === 401) return apply({ signIn: status().signIn, session: null });
    } catch {
      // Offline: try again shortly; the session lasts until its own end meanwhile.
    }
    timer = setTimeout(() => void refresh(), MIN_REFRESH_DELAY_MS);
  };

  const load = async () => {
    try {
      const response = await fetch('/auth/session', { cache: 'no-store' });
      if (response.ok) apply((await response.json()) as SessionStatus);
    } catch {
      // The server is away; the token form still works once it is back.
    }
  };
  void load();

  return {
    /** The provider's name for "Sign in with …", when the server offers it. */
    provider: () => status().signIn?.provider ?? null,
    /** Who is signed in through the session cookie, or null. */
    session: () => status().session,
    /** Ends the session on the server (its streams end with it) and forgets it here. */
    async signOut() {
      clearTimeout(timer);
      try {
        await fetch('/auth/logout', { method: 'POST' });
      } finally {
        setStatus({ signIn: status().signIn, session: null });
      }
    },
  };
}

export type Identity = ReturnType<typeof createIdentity>;
