import type { IncomingMessage } from 'node:http';
import type { Metrics } from '../metrics.ts';
import type { JwtVerifier } from './jwt-verifier.ts';
import { originAllowed } from './origin.ts';
import { ANONYMOUS, bearerToken, type Authenticator, type Principal } from './principal.ts';
import { refusal, type AuthRefusal } from './refusal.ts';
import type { SessionCookie } from './session-cookie.ts';
import type { SessionStore } from './sessions.ts';

export type Authentication = { principal: Principal; refusal?: undefined } | { principal?: undefined; refusal: AuthRefusal };

export type Credentials = {
  /** false: access control is off, everyone is `anonymous` (loopback only). */
  enabled: boolean;
  /**
   * Who sent `req`: a bearer credential (`presented`, else `Authorization: Bearer`) as a static
   * token or a JWT from the issuer; without one, the session cookie. Every refusal is counted
   * by reason in /metrics.
   */
  authenticate(req: IncomingMessage, presented?: string): Promise<Authentication>;
};

export type CredentialSources = {
  tokens: Authenticator;
  jwt: JwtVerifier | undefined;
  sessions: { store: SessionStore; cookie: SessionCookie } | undefined;
  allowedOrigins: readonly string[] | undefined;
  metrics: Metrics;
};

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Every way a caller proves who they are, tried in one order, for every transport. */
export function createCredentials({ tokens, jwt, sessions, allowedOrigins, metrics }: CredentialSources): Credentials {
  const enabled = tokens.enabled || jwt !== undefined;
  const refused = (r: AuthRefusal): Authentication => {
    metrics.authenticationRefused(r.reason);
    return { refusal: r };
  };

  return {
    enabled,
    async authenticate(req, presented) {
      if (!enabled) return { principal: ANONYMOUS };
      const secret = presented ?? bearerToken(req.headers.authorization);
      if (secret) {
        const principal = tokens.enabled ? tokens.authenticate(secret) : undefined;
        if (principal) return { principal };
        if (jwt?.looksLikeJwt(secret)) {
          const result = await jwt.verify(secret);
          return 'reason' in result ? refused(result) : { principal: result };
        }
        return refused(refusal('unknown_token', 'the token is not accepted: send Authorization: Bearer <token> (WebSocket: connectionParams.token)'));
      }
      const id = sessions?.cookie.read(req);
      if (sessions && id !== undefined) {
        const session = sessions.store.get(id);
        if (!session) return refused(refusal('session_unknown', 'your session has ended: sign in again'));
        // A cookie rides along on requests other sites make; a change needs proof it came from
        // our page: an Origin we serve (browsers send Origin on every POST, PUT, PATCH, DELETE).
        // The WebSocket upgrade has its own Origin check (http-server.ts).
        if (!SAFE_METHODS.has(req.method ?? 'GET')) {
          const origin = req.headers.origin;
          if (origin === undefined || !originAllowed(origin, req.headers.host, allowedOrigins)) {
            return refused(refusal('cross_site', 'a change made with a session cookie must come from this site\'s page (Origin)', 'FORBIDDEN'));
          }
        }
        return { principal: session.principal };
      }
      return refused(refusal('missing', 'a valid token is required: send Authorization: Bearer <token> (WebSocket: connectionParams.token), or sign in'));
    },
  };
}
