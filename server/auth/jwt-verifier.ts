import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import * as oauth from 'oauth4webapi';
import { isLoopback, type JwtConfig, type Role } from '../config.ts';
import type { Logger } from '../logger.ts';
import { ExpiringRight } from './access-right.ts';
import type { Principal } from './principal.ts';
import { refusal, type AuthRefusal } from './refusal.ts';

/**
 * Signature algorithms a token may use: asymmetric only. Never `none`, and never an HMAC
 * (HS256…): a verifier that accepted one would take the issuer's *public* key as the shared
 * secret, and anyone could sign with it.
 */
export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** The JWKS is fetched again when a token names a key we do not have, at most this often. */
const JWKS_COOLDOWN_MS = 30_000;
/** Keys are read again after this long even if every kid is known (rotation that reuses kids). */
const JWKS_MAX_AGE_MS = 10 * 60_000;
/** Each fetch from the issuer (discovery, JWKS) gives up after this long. */
const ISSUER_FETCH_TIMEOUT_MS = 5_000;
/** After a failed discovery, the next attempt waits this long (no storm against a down issuer). */
const DISCOVERY_RETRY_MS = 5_000;

export type JwtVerifier = {
  /** Whether `credential` looks like a JWT (three base64url parts): only those are tried here. */
  looksLikeJwt(credential: string): boolean;
  /** The token's principal, or why it is refused. Never throws. */
  verify(token: string): Promise<Principal | AuthRefusal>;
  /** The issuer's discovery document, once read (the sign-in uses the same). */
  issuerMetadata(): Promise<oauth.AuthorizationServer>;
};

const JWT_SHAPE = /^[\w-]+\.[\w-]*\.[\w-]*$/;

/**
 * Bearer JWTs from one OpenID Connect issuer (jose for verification, oauth4webapi for
 * discovery). The discovery document and the JWKS are read on first use, not at start-up, so a
 * server whose issuer is briefly away still starts and serves static tokens.
 */
export function createJwtVerifier(config: JwtConfig, log: Logger, { jwksCooldownMs = JWKS_COOLDOWN_MS } = {}): JwtVerifier {
  const issuerUrl = new URL(config.issuer);
  const insecure = issuerUrl.protocol === 'http:' && isLoopback(issuerUrl.hostname);
  let discovered: Promise<{ metadata: oauth.AuthorizationServer; keys: ReturnType<typeof createRemoteJWKSet> }> | undefined;
  let failedAt = -Infinity;

  const discover = () => {
    if (discovered) return discovered;
    if (performance.now() - failedAt < DISCOVERY_RETRY_MS) return Promise.reject(new Error('the issuer was unreachable moments ago'));
    discovered = (async () => {
      const response = await oauth.discoveryRequest(issuerUrl, {
        algorithm: 'oidc',
        signal: AbortSignal.timeout(ISSUER_FETCH_TIMEOUT_MS),
        [oauth.allowInsecureRequests]: insecure,
      });
      // Checks that the document names this very issuer (no mix-up between providers).
      const metadata = await oauth.processDiscoveryResponse(issuerUrl, response);
      if (!metadata.jwks_uri) throw new Error('the discovery document names no jwks_uri');
      const jwksUri = new URL(metadata.jwks_uri);
      if (jwksUri.protocol !== 'https:' && !(insecure && isLoopback(jwksUri.hostname))) {
        throw new Error(`the jwks_uri ${jwksUri.href} is not https`);
      }
      const keys = createRemoteJWKSet(jwksUri, {
        cooldownDuration: jwksCooldownMs,
        cacheMaxAge: JWKS_MAX_AGE_MS,
        timeoutDuration: ISSUER_FETCH_TIMEOUT_MS,
      });
      log.info({ issuer: metadata.issuer, jwksUri: jwksUri.href }, 'read the identity provider\'s discovery document');
      return { metadata, keys };
    })();
    discovered.catch((err: unknown) => {
      discovered = undefined;
      failedAt = performance.now();
      log.warn({ issuer: config.issuer, err: { message: (err as Error).message } }, 'cannot read the identity provider\'s discovery document');
    });
    return discovered;
  };

  return {
    looksLikeJwt: (credential) => JWT_SHAPE.test(credential),
    issuerMetadata: async () => (await discover()).metadata,
    async verify(token) {
      let issuer: Awaited<ReturnType<typeof discover>>;
      try {
        issuer = await discover();
      } catch {
        return refusal('issuer_unavailable', 'the identity provider cannot be reached to check this token; try again shortly');
      }
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, issuer.keys, {
          issuer: issuer.metadata.issuer,
          audience: config.audience,
          algorithms: ACCEPTED_ALGORITHMS,
          clockTolerance: Math.round(config.clockSkewMs / 1000),
          // A token without an expiry would be good for ever.
          requiredClaims: ['exp'],
        }));
      } catch (err) {
        return describeFailure(err, config);
      }
      const role = roleOf(payload[config.roleClaim]);
      if (!role) {
        return refusal('no_role', `the token's "${config.roleClaim}" claim names neither writer nor reader`, 'FORBIDDEN');
      }
      return Object.freeze({
        name: actorOf(payload),
        role,
        right: new ExpiringRight((payload.exp as number) * 1000 + config.clockSkewMs, 'token expired'),
      });
    },
  };
}

/** `writer` anywhere in the claim gives writer, else `reader` gives reader (a string or an array of strings). */
export function roleOf(claim: unknown): Role | undefined {
  const roles = typeof claim === 'string' ? claim.split(/[\s,]+/) : Array.isArray(claim) ? claim.filter((r) => typeof r === 'string') : [];
  if (roles.includes('writer')) return 'writer';
  if (roles.includes('reader')) return 'reader';
  return undefined;
}

/** Recorded as the events' actor: the person's email, else their user name, else the subject. */
export function actorOf(claims: Record<string, unknown>): string {
  for (const key of ['email', 'preferred_username', 'sub']) {
    const value = claims[key];
    if (typeof value === 'string' && value.length > 0) return value.slice(0, 256);
  }
  return 'unknown';
}

/** Which check failed, in words a client can act on. The token itself is never echoed. */
function describeFailure(err: unknown, config: JwtConfig): AuthRefusal {
  if (err instanceof errors.JWTExpired) return refusal('expired', 'the token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'nbf':
      case 'iat':
        return refusal('not_yet_valid', 'the token is not valid yet (nbf or iat is in the future)');
      case 'iss':
        return refusal('wrong_issuer', `the token is from another issuer (expected ${config.issuer})`);
      case 'aud':
        return refusal('wrong_audience', `the token is for another audience (expected ${config.audience})`);
      case 'exp':
        return refusal('malformed', 'the token has no usable expiry (exp)');
      default:
        return refusal('malformed', `the token's "${err.claim}" claim is not acceptable`);
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return refusal('algorithm_not_allowed', `the token's signature algorithm is not accepted (only ${ACCEPTED_ALGORITHMS.join(', ')})`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return refusal('bad_signature', 'the token\'s signature does not verify');
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return refusal('unknown_key', 'the token is signed with a key the issuer does not publish');
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
    return refusal('issuer_unavailable', 'the identity provider\'s keys cannot be read to check this token; try again shortly');
  }
  return refusal('malformed', 'the token is not a well-formed signed JWT');
}
