import { randomBytes } from 'node:crypto';
import type { Role } from '../config.ts';
import type { AccessRight } from './access-right.ts';
import type { Principal } from './principal.ts';

/** What the issuer gave at sign-in (or at the last refresh). Kept on the server, never sent to the page. */
export type IssuerTokens = { refreshToken: string | undefined; idToken: string | undefined };

/**
 * One person signed in through the page: the principal their requests run as, until the
 * session ends (its time is up without a refresh, or they sign out). The session is its own
 * access right, so a stream it opened ends with it.
 */
export class Session implements AccessRight {
  readonly principal: Principal;
  #expiresAt: number;
  #ended: string | undefined;
  readonly #listeners = new Set<(reason: string) => void>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    /** the cookie's value: 256 random bits */
    readonly id: string,
    name: string,
    role: Role,
    expiresAt: number,
    public tokens: IssuerTokens,
    private readonly onEnded: (session: Session) => void,
  ) {
    this.principal = Object.freeze({ name, role, right: this });
    this.#expiresAt = expiresAt;
    this.#arm();
  }

  /** ms since the epoch */
  get expiresAt(): number {
    return this.#expiresAt;
  }

  endedBecause(): string | undefined {
    return this.#ended;
  }

  onEnd(listener: (reason: string) => void): () => void {
    if (this.#ended !== undefined) {
      const reason = this.#ended;
      queueMicrotask(() => listener(reason));
      return () => {};
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A refresh at the issuer went through: the session lasts until `expiresAt` now. */
  extend(expiresAt: number, tokens: IssuerTokens): void {
    if (this.#ended !== undefined) return;
    this.#expiresAt = expiresAt;
    this.tokens = tokens;
    this.#arm();
  }

  /** Ends the session at once (sign out, or the issuer refused a refresh); its streams end with it. */
  end(reason: string): void {
    if (this.#ended !== undefined) return;
    this.#ended = reason;
    clearTimeout(this.#timer);
    this.onEnded(this);
    for (const listener of this.#listeners) listener(reason);
    this.#listeners.clear();
  }

  #arm() {
    clearTimeout(this.#timer);
    const left = this.#expiresAt - Date.now();
    // Sessions last hours, not weeks: well inside setTimeout's 24.8-day limit.
    this.#timer = setTimeout(() => this.end('session expired'), Math.max(0, Math.min(left, 2 ** 31 - 1)));
    this.#timer.unref();
  }
}

/**
 * The sessions of this server process, in memory. Behind a load balancer a session lives on
 * the node where it began (sticky sessions); a restart signs everyone out, which costs a
 * redirect through the identity provider, not a password, while its own session lasts.
 */
export class SessionStore {
  readonly #sessions = new Map<string, Session>();

  create(name: string, role: Role, expiresAt: number, tokens: IssuerTokens): Session {
    const id = randomBytes(32).toString('base64url');
    const session = new Session(id, name, role, expiresAt, tokens, (s) => this.#sessions.delete(s.id));
    this.#sessions.set(id, session);
    return session;
  }

  /** The live session with this id, if any. */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.#sessions.get(id);
    return session && session.endedBecause() === undefined ? session : undefined;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Ends every session (shutdown). */
  endAll(reason: string): void {
    for (const session of [...this.#sessions.values()]) session.end(reason);
  }
}
