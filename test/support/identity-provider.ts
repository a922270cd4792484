import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';

/** A person who can sign in at the provider (its development login form takes any password). */
export type Account = { login: string; email?: string; roles: string[] };
/** A service that takes tokens with client_credentials; `ttlSeconds`: its tokens' lifetime. */
export type ServiceClient = { id: string; secret: string; roles: string[]; ttlSeconds?: number };

export type IdentityProvider = {
  /** http://127.0.0.1:port: what AUTH_JWT_ISSUER names */
  issuer: string;
  /** The resource (aud) the provider issues JWT access tokens for. */
  audience: string;
  /** A real access token from the provider's token endpoint (client_credentials). */
  serviceToken(clientId: string): Promise<string>;
  /** The provider's own signing key (private): for tokens the provider would never issue, to prove they are refused. */
  signingKey: { jwk: JWK; kid: string };
  /** Signs `claims` with the provider's key, as the provider signs its tokens. */
  sign(claims: JWTPayload, header?: { alg?: string; kid?: string }): Promise<string>;
  close(): Promise<void>;
};

/**
 * A real OpenID Connect provider (the `oidc-provider` package, certified by the OpenID
 * Foundation) on loopback, configured as a shop would configure theirs: a web client for the
 * page's sign-in (code + PKCE, refresh tokens), services with client_credentials that get JWT
 * access tokens for `audience`, and a `roles` claim. Its development login form stands in for
 * the provider's own login page.
 */
export async function startIdentityProvider(opts: {
  audience: string;
  accounts: Account[];
  services: ServiceClient[];
  /** the page's client; redirect URIs under `publicUrl` */
  web?: { clientId: string; clientSecret: string; publicUrl: string };
}): Promise<IdentityProvider> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const accounts = new Map(opts.accounts.map((a) => [a.login, a]));
  const services = new Map(opts.services.map((s) => [s.id, s]));

  const provider = new Provider(issuer, {
    jwks: { keys: [jwk] },
    clients: [
      ...opts.services.map((s) => ({
        client_id: s.id,
        client_secret: s.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      })),
      ...(opts.web
        ? [
            {
              client_id: opts.web.clientId,
              client_secret: opts.web.clientSecret,
              grant_types: ['authorization_code', 'refresh_token'],
              response_types: ['code' as const],
              redirect_uris: [`${opts.web.publicUrl}/auth/callback`],
              post_logout_redirect_uris: [`${opts.web.publicUrl}/`],
            },
          ]
        : []),
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['preferred_username'], roles: ['roles'] },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'roles'],
    async findAccount(_ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { sub, preferred_username: account.login, email: account.email, email_verified: true, roles: account.roles };
        },
      };
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, client, oneOf) => oneOf ?? (services.has(client.clientId) ? opts.audience : undefined),
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx, resource, client) => {
          if (resource !== opts.audience) throw new Error(`unknown resource ${resource}`);
          return {
            scope: 'orders',
            audience: opts.audience,
            accessTokenFormat: 'jwt',
            accessTokenTTL: services.get(client.clientId)?.ttlSeconds ?? 600,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    async extraTokenClaims(_ctx, token) {
      const service = 'clientId' in token && typeof token.clientId === 'string' ? services.get(token.clientId) : undefined;
      return service ? { roles: service.roles } : undefined;
    },
    pkce: { required: () => true },
  });
  // The development login and consent forms log a warning each time; the tests know.
  provider.on('server_error', (_ctx, err) => console.error('identity provider error', err));
  handler = provider.callback();

  const key = await importJWK(jwk, 'RS256');
  return {
    issuer,
    audience: opts.audience,
    signingKey: { jwk, kid },
    async serviceToken(clientId) {
      const service = services.get(clientId);
      if (!service) throw new Error(`no service ${clientId}`);
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${service.id}:${service.secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'orders', resource: opts.audience }),
      });
      const body = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!response.ok || !body.access_token) throw new Error(`token endpoint: ${response.status} ${body.error} ${body.error_description}`);
      return body.access_token;
    },
    sign(claims, header = {}) {
      return new SignJWT(claims).setProtectedHeader({ alg: header.alg ?? 'RS256', kid: header.kid ?? kid, typ: 'JWT' }).sign(key);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
