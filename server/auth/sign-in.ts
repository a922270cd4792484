import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseCookie, stringifySetCookie } from 'cookie';
import * as oidc from 'openid-client';
import { isLoopback, type JwtConfig, type OidcSignInConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { sendJson } from '../rest/http.ts';
import { actorOf, roleOf } from './jwt-verifier.ts';
import { originAllowed } from './origin.ts';
import { appendSetCookie, type SessionCookie } from './session-cookie.ts';
import type { IssuerTokens, Session, SessionStore } from './sessions.ts';

/** A sign-in begun and not finished is forgotten after this long. */
const PENDING_SIGN_IN_MS = 10 * 60_000;
/** Sign-ins pending at once; the oldest go first (anyone can begin one). */
const MAX_PENDING_SIGN_INS = 10_000;
/** Each request to the issuer (discovery, token, userinfo) gives up after this long, in seconds. */
const ISSUER_TIMEOUT_S = 5;
const LOGIN_COOKIE = 'live_orders_sign_in';

type PendingSignIn = { codeVerifier: string; state: string; nonce: string; at: number };

/** What the page learns from GET /auth/session. */
export type SessionStatus = {
  /** The page's sign-in with the identity provider, when configured. */
  signIn: { provider: string } | null;
  /** Who is signed in through this browser's session cookie, if anyone. */
  session: { name: string; role: string; expiresAt: string } | null;
};

/**
 * The page's sign-in, run by the server (openid-client): the authorization-code flow with
 * PKCE, a nonce and a state, so the tokens never reach the browser's JavaScript. The browser
 * holds only an opaque, HttpOnly session cookie (session-cookie.ts).
 *
 *   GET  /auth/session   { signIn, session } for the page (always served; signIn null when off)
 *   GET  /auth/login     redirect to the provider
 *   GET  /auth/callback  back from the provider: code for tokens, session cookie, redirect to /
 *   POST /auth/refresh   before the session ends: the provider is asked again (refresh token)
 *   POST /auth/logout    ends the session (its streams end with UNAUTHORIZED) and the cookie
 */
export function createSignInRoutes(opts: {
  signIn: OidcSignInConfig | undefined;
  jwt: JwtConfig | undefined;
  sessions: SessionStore;
  cookie: SessionCookie;
  allowedOrigins: readonly string[] | undefined;
  metrics: Metrics;
  log: Logger;
}) {
  const { signIn, jwt, sessions, cookie, log } = opts;
  const pending = new Map<string, PendingSignIn>();
  const redirectUri = signIn ? `${signIn.publicUrl}/auth/callback` : '';
  let configuration: Promise<oidc.Configuration> | undefined;

  const provider = () => {
    if (!signIn || !jwt) throw new Error('sign-in is not configured');
    configuration ??= (async () => {
      const issuer = new URL(jwt.issuer);
      const insecure = issuer.protocol === 'http:' && isLoopback(issuer.hostname);
      return oidc.discovery(
        issuer,
        signIn.clientId,
        signIn.clientSecret,
        signIn.clientSecret ? undefined : oidc.None(),
        { execute: insecure ? [oidc.allowInsecureRequests] : [], timeout: ISSUER_TIMEOUT_S },
      );
    })();
    // A failed discovery is tried again by the next sign-in, not remembered.
    configuration.catch(() => (configuration = undefined));
    return configuration;
  };

  /** The session's principal from the ID token's claims and, for what they lack, the userinfo endpoint. */
  const claimsOf = async (config: oidc.Configuration, tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers) => {
    const idClaims = tokens.claims();
    if (!idClaims) throw new Error('the provider returned no ID token');
    // Many providers keep the ID token small (OIDC Core 5.4: scope claims go to userinfo when
    // an access token is issued); userinfo fills in what it lacks, the checked ID token wins.
    if (roleOf(idClaims[jwt!.roleClaim]) !== undefined && idClaims.email !== undefined) return idClaims as Record<string, unknown>;
    const userInfo = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
    return { ...userInfo, ...idClaims } as Record<string, unknown>;
  };

  const issuerTokens = (tokens: oidc.TokenEndpointResponse, previous?: IssuerTokens): IssuerTokens => ({
    refreshToken: tokens.refresh_token ?? previous?.refreshToken,
    idToken: tokens.id_token ?? previous?.idToken,
  });

  const sessionStatus = (session: Session | undefined): SessionStatus => ({
    signIn: signIn ? { provider: signIn.providerName } : null,
    session: session
      ? { name: session.principal.name, role: session.principal.role, expiresAt: new Date(session.expiresAt).toISOString() }
      : null,
  });

  const fromOurPage = (req: IncomingMessage) => {
    const origin = req.headers.origin;
    return origin !== undefined && originAllowed(origin, req.headers.host, opts.allowedOrigins);
  };

  const login = async (res: ServerResponse) => {
    const config = await provider();
    const now = Date.now();
    for (const [id, p] of pending) {
      if (now - p.at < PENDING_SIGN_IN_MS && pending.size < MAX_PENDING_SIGN_INS) break;
      pending.delete(id);
    }
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const entry: PendingSignIn = { codeVerifier, state: oidc.randomState(), nonce: oidc.randomNonce(), at: now };
    const id = randomBytes(24).toString('base64url');
    pending.set(id, entry);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: signIn!.scopes,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state: entry.state,
      nonce: entry.nonce,
      // offline_access (a refresh token) needs consent at most providers.
      ...(signIn!.scopes.split(' ').includes('offline_access') ? { prompt: 'consent' } : {}),
    });
    appendSetCookie(
      res,
      stringifySetCookie(LOGIN_COOKIE, id, { httpOnly: true, sameSite: 'lax', secure: signIn!.secureCookies, path: '/auth/callback', maxAge: PENDING_SIGN_IN_MS / 1000 }),
    );
    res.writeHead(303, { location: url.href, 'cache-control': 'no-store' }).end();
  };

  const callback = async (req: IncomingMessage, res: ServerResponse) => {
    const id = req.headers.cookie ? parseCookie(req.headers.cookie)[LOGIN_COOKIE] : undefined;
    const entry = id ? pending.get(id) : undefined;
    if (id) pending.delete(id);
    appendSetCookie(res, stringifySetCookie(LOGIN_COOKIE, '', { httpOnly: true, sameSite: 'lax', secure: signIn!.secureCookies, path: '/auth/callback', maxAge: 0 }));
    if (!entry || Date.now() - entry.at > PENDING_SIGN_IN_MS) {
      return signInFailed(res, 400, 'This sign-in was not started here, or took too long. Try again.');
    }
    const config = await provider();
    let claims: Record<string, unknown>;
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      // The URL as the provider sent the browser back: PUBLIC_URL's origin, this path and query.
      const current = new URL(req.url ?? '/', signIn!.publicUrl);
      const back = new URL(`${signIn!.publicUrl}/auth/callback${current.search}`);
      tokens = await oidc.authorizationCodeGrant(config, back, {
        pkceCodeVerifier: entry.codeVerifier,
        expectedState: entry.state,
        expectedNonce: entry.nonce,
        idTokenExpected: true,
      });
      claims = await claimsOf(config, tokens);
    } catch (err) {
      opts.metrics.authenticationRefused('malformed');
      log.warn({ err: { message: (err as Error).message, name: (err as Error).name } }, 'sign-in failed at the identity provider');
      return signInFailed(res, 401, 'The identity provider did not complete the sign-in. Try again.');
    }
    const role = roleOf(claims[jwt!.roleClaim]);
    if (!role) {
      opts.metrics.authenticationRefused('no_role');
      return signInFailed(res, 403, `Your account has neither the writer nor the reader role ("${jwt!.roleClaim}") for this service.`);
    }
    const session = sessions.create(actorOf(claims), role, Date.now() + signIn!.sessionTtlMs, issuerTokens(tokens));
    cookie.set(res, session.id, signIn!.sessionTtlMs);
    log.info({ actor: session.principal.name, role }, 'signed in');
    res.writeHead(303, { location: `${signIn!.publicUrl}/`, 'cache-control': 'no-store' }).end();
  };

  const refresh = async (req: IncomingMessage, res: ServerResponse) => {
    const session = sessions.get(cookie.read(req));
    if (!session) return sendJson(res, 401, { error: 'your session has ended: sign in again' });
    const { refreshToken } = session.tokens;
    if (!refreshToken) {
      // Nothing to ask the provider with: the session ends at its time, and the page signs in again.
      return sendJson(res, 200, sessionStatus(session));
    }
    const config = await provider();
    let tokens: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
    try {
      tokens = await oidc.refreshTokenGrant(config, refreshToken);
    } catch (err) {
      if (err instanceof oidc.ResponseBodyError) {
        // The provider said no (the person was disabled, the grant revoked): so do we, at once.
        session.end('the identity provider ended the session');
        cookie.clear(res);
        opts.metrics.authenticationRefused('session_ended');
        return sendJson(res, 401, { error: 'the identity provider ended your session: sign in again' });
      }
      log.warn({ err: { message: (err as Error).message } }, 'cannot refresh a session at the identity provider');
      return sendJson(res, 503, { error: 'the identity provider cannot be reached; your session goes on until it ends' });
    }
    session.extend(Date.now() + signIn!.sessionTtlMs, issuerTokens(tokens, session.tokens));
    cookie.set(res, session.id, signIn!.sessionTtlMs);
    return sendJson(res, 200, sessionStatus(session));
  };

  const logout = (req: IncomingMessage, res: ServerResponse) => {
    const session = sessions.get(cookie.read(req));
    session?.end('signed out');
    cookie.clear(res);
    if (session) log.info({ actor: session.principal.name }, 'signed out');
    return sendJson(res, 200, sessionStatus(undefined));
  };

  const signInFailed = (res: ServerResponse, status: number, message: string) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><title>Sign-in failed</title><p>${escapeHtml(message)}</p><p><a href="${escapeHtml(signIn?.publicUrl ?? '')}/">Back</a></p>`);
  };

  /** Serves the /auth/ routes; false for any other path. */
  return async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> => {
    if (!pathname.startsWith('/auth/')) return false;
    const route = `${req.method} ${pathname}`;
    if (route === 'GET /auth/session') {
      res.setHeader('cache-control', 'no-store');
      sendJson(res, 200, sessionStatus(sessions.get(cookie.read(req))));
      return true;
    }
    if (!signIn) {
      sendJson(res, 404, { error: 'sign-in with an identity provider is not configured (AUTH_OIDC_CLIENT_ID)' });
      return true;
    }
    try {
      switch (route) {
        case 'GET /auth/login':
          await login(res);
          return true;
        case 'GET /auth/callback':
          await callback(req, res);
          return true;
        case 'POST /auth/refresh':
        case 'POST /auth/logout':
          // Cookie-authenticated and state-changing: only from our own page (see credentials.ts).
          if (!fromOurPage(req)) {
            opts.metrics.authenticationRefused('cross_site');
            sendJson(res, 403, { error: 'only this site\'s page may do that (Origin)' });
            return true;
          }
          if (route === 'POST /auth/logout') logout(req, res);
          else await refresh(req, res);
          return true;
        default:
          sendJson(res, 404, { error: `no route ${route}` });
          return true;
      }
    } catch (err) {
      log.warn({ err: { message: (err as Error).message } }, 'the identity provider cannot be reached');
      if (!res.headersSent) signInFailed(res, 503, 'The identity provider cannot be reached. Try again shortly.');
      return true;
    }
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
