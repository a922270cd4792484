import { createHash, timingSafeEqual } from 'node:crypto';
import type { Role, TokenEntry } from '../config.ts';
import type { AccessRight } from './access-right.ts';

/**
 * Who is calling: recorded as the `actor` of every event they cause. `right`: until when
 * (a JWT's expiry, a session's end); absent for a static token, whose right does not expire.
 */
export type Principal = Readonly<{ name: string; role: Role; right?: AccessRight }>;

/** Everyone, when access control is off. */
export const ANONYMOUS: Principal = Object.freeze({ name: 'anonymous', role: 'writer' });

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Resolves a presented secret to its principal. Comparison is constant-time (digests of equal
 * length through timingSafeEqual) and visits every entry, so timing does not reveal how much
 * of a guess was right or which entry it came close to.
 */
export function createAuthenticator(tokens: readonly TokenEntry[]) {
  const entries = tokens.map((t) => ({ digest: digest(t.secret), principal: Object.freeze({ name: t.name, role: t.role }) }));
  return {
    enabled: entries.length > 0,
    /** The principal for a secret; `undefined` for a missing or unknown one. */
    authenticate(secret: string | undefined): Principal | undefined {
      if (entries.length === 0) return ANONYMOUS;
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
