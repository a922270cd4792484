import { createHash, timingSafeEqual } from 'node:crypto';
import type { Role, TokenEntry } from '../config.ts';
import { RevocableRight, type AccessRight } from './access-right.ts';

/**
 * Who is calling: recorded as the `actor` of every event they cause. `right`: until when
 * (a JWT's expiry, a session's end); absent for a static token, whose right does not expire.
 */
export type Principal = Readonly<{ name: string; role: Role; right?: AccessRight }>;

/** Everyone, when access control is off. */
export const ANONYMOUS: Principal = Object.freeze({ name: 'anonymous', role: 'writer' });

const digest = (s: string) => createHash('sha256').update(s).digest();

type Entry = { digest: Buffer; role: TokenEntry['role']; name: string; right: RevocableRight; principal: Principal };

const entryOf = (t: TokenEntry): Entry => {
  const right = new RevocableRight();
  return { digest: digest(t.secret), name: t.name, role: t.role, right, principal: Object.freeze({ name: t.name, role: t.role, right }) };
};

/**
 * Resolves a presented secret to its principal. Comparison is constant-time (digests of equal
 * length through timingSafeEqual) and visits every entry, so timing does not reveal how much
 * of a guess was right or which entry it came close to.
 */
export function createAuthenticator(tokens: readonly TokenEntry[]) {
  let entries = tokens.map(entryOf);
  // Fixed at start-up: a reload may change the tokens, never turn access control off.
  const enabled = entries.length > 0;
  return {
    enabled,
    /**
     * Takes the tokens as they are now (AUTH_TOKENS_FILE read again). A token that is gone, or
     * whose name or role changed, is revoked: the streams it opened end with UNAUTHORIZED.
     * Returns how many were revoked.
     */
    replace(next: readonly TokenEntry[]): number {
      const kept = next.map((t) => {
        const same = entries.find((e) => e.name === t.name && e.role === t.role && timingSafeEqual(e.digest, digest(t.secret)));
        return same ?? entryOf(t);
      });
      const revoked = entries.filter((e) => !kept.includes(e));
      entries = kept;
      for (const e of revoked) e.right.revoke('token revoked');
      return revoked.length;
    },
    /** The principal for a secret; `undefined` for a missing or unknown one. */
    authenticate(secret: string | undefined): Principal | undefined {
      if (!enabled) return ANONYMOUS;
      if (!secret) return undefined;
      const presented = digest(secret);
      let found: Principal | undefined;
      for (const e of entries) if (timingSafeEqual(e.digest, presented)) found = e.principal;
      return found;
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;

/** The secret of an `Authorization: Bearer <secret>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}
