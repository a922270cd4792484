import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLogger } from '../logger.ts';
import { actorOf, createJwtVerifier, roleOf } from './jwt-verifier.ts';

/** A discovery document and a JWKS on loopback whose keys the test rotates, counting JWKS fetches. */
let server: Server;
let issuer: string;
let published: JWK[] = [];
let jwksFetches = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks`, authorization_endpoint: `${issuer}/auth`, response_types_supported: ['code'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'] }));
    }
    if (req.url === '/jwks') {
      jwksFetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ keys: published }));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function key(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { privateKey, kid, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

const sign = (k: Awaited<ReturnType<typeof key>>, claims: Record<string, unknown> = {}) =>
  new SignJWT({ sub: 'svc', roles: 'reader', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: k.kid })
    .setIssuer(issuer)
    .setAudience('orders')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(k.privateKey);

const roleOrRefusal = (result: object) => ('role' in result ? result.role : 'refused');

describe('JWT verification against the issuer\'s JWKS', () => {
  test('keys are cached; a new kid (rotation) is fetched once; unknown kids do not hammer the issuer', async () => {
    const cooldownMs = 300;
    const verifier = createJwtVerifier({ issuer, audience: 'orders', roleClaim: 'roles', clockSkewMs: 1_000 }, createLogger('silent'), { jwksCooldownMs: cooldownMs });
    const first = await key('k1');
    published = [first.jwk];
    expect(await verifier.verify(await sign(first))).toMatchObject({ name: 'svc', role: 'reader' });
    expect(await verifier.verify(await sign(first))).toMatchObject({ role: 'reader' });
    expect(jwksFetches).toBe(1);

    // Within the cooldown after a fetch, unknown kids are refused without asking the issuer again.
    for (let i = 0; i < 5; i++) expect(await verifier.verify(await sign(await key(`forged-${i}`)))).toMatchObject({ reason: 'unknown_key' });
    expect(jwksFetches).toBe(1);

    // The issuer rotates: once the cooldown is over, a token naming the new kid makes one fetch
    // and is accepted, and so is the old key's.
    const second = await key('k2');
    published = [first.jwk, second.jwk];
    await expect.poll(async () => roleOrRefusal(await verifier.verify(await sign(second))), { timeout: 5_000, interval: cooldownMs / 3 }).toBe('reader');
    const fetches = jwksFetches;
    expect(fetches).toBeLessThanOrEqual(3);
    expect(await verifier.verify(await sign(first))).toMatchObject({ role: 'reader' });
    expect(await verifier.verify(await sign(second, { roles: ['writer'] }))).toMatchObject({ role: 'writer' });
    expect(jwksFetches).toBe(fetches);
  });

  test('roles: writer wins, reader next, a string or an array; the actor is email, else preferred_username, else sub', () => {
    expect(roleOf(['reader', 'writer'])).toBe('writer');
    expect(roleOf('reader other')).toBe('reader');
    expect(roleOf(['admin'])).toBeUndefined();
    expect(roleOf(undefined)).toBeUndefined();
    expect(roleOf({ writer: true })).toBeUndefined();
    expect(actorOf({ sub: 's', preferred_username: 'u', email: 'e@x' })).toBe('e@x');
    expect(actorOf({ sub: 's', preferred_username: 'u' })).toBe('u');
    expect(actorOf({ sub: 's' })).toBe('s');
  });
});
