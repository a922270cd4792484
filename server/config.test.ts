import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  test('defaults: port 4000 on loopback, embedded database', () => {
    expect(loadConfig({})).toMatchObject({ port: 4000, host: '127.0.0.1', databaseUrl: undefined, logLevel: 'info' });
  });

  test('empty values count as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' })).toMatchObject({ port: 4000, databaseUrl: undefined });
  });

  test.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ])('a bad value (%o) stops start-up with a message naming %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`${name}:`));
  });

  test('the result is frozen', () => {
    expect(Object.isFrozen(loadConfig({}))).toBe(true);
  });
});

describe('access control configuration', () => {
  test('a non-loopback HOST with access control off refuses to start, naming AUTH_TOKENS', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(/AUTH_TOKENS/);
    expect(() => loadConfig({ HOST: '192.0.2.10' })).toThrow(ConfigError);
    expect(loadConfig({ HOST: '::1' }).host).toBe('::1');
    expect(loadConfig({ HOST: '0.0.0.0', AUTH_TOKENS: 'ops:writer:0123456789abcdef' }).tokens).toEqual([
      { name: 'ops', role: 'writer', secret: '0123456789abcdef' },
    ]);
  });

  test('bad token entries are named without echoing their secret', () => {
    const secret = 'tiny';
    let message = '';
    try {
      loadConfig({ AUTH_TOKENS: `ops:admin:${secret}` });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/AUTH_TOKENS entry 1/);
    expect(message).toMatch(/role/);
    expect(message).not.toContain(secret);
  });

  test('tokens from a file and from the environment combine; a name twice is refused', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'tokens-')), 'tokens.json');
    await writeFile(file, JSON.stringify([{ name: 'viewer', role: 'reader', token: 'viewer-secret-0123456789' }]));
    const config = loadConfig({ AUTH_TOKENS_FILE: file, AUTH_TOKENS: 'ops:writer:0123456789abcdef' });
    expect(config.tokens.map((t) => `${t.name}:${t.role}`)).toEqual(['ops:writer', 'viewer:reader']);
    expect(() => loadConfig({ AUTH_TOKENS_FILE: file, AUTH_TOKENS: 'viewer:writer:0123456789abcdef' })).toThrow(/used twice/);
    expect(() => loadConfig({ AUTH_TOKENS_FILE: path.join(tmpdir(), 'missing.json') })).toThrow(/AUTH_TOKENS_FILE/);
  });
});

describe('production configuration', () => {
  test('TRUST_PROXY: addresses and CIDRs, comma-separated; unset trusts no one', () => {
    expect(loadConfig({}).trustProxy).toEqual([]);
    expect(loadConfig({ TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,fd00::/8' }).trustProxy).toEqual(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
  });

  test('a bad TRUST_PROXY entry stops start-up, naming it', () => {
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.1,haproxy' })).toThrow(/TRUST_PROXY: "haproxy" is not an address or CIDR/);
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/40' })).toThrow(/TRUST_PROXY: "10.0.0.0\/40" has a bad prefix length/);
  });

  test('SHUTDOWN_DRAIN_MS: 5 s unless set; not negative', () => {
    expect(loadConfig({}).shutdownDrainMs).toBe(5_000);
    expect(loadConfig({ SHUTDOWN_DRAIN_MS: '0' }).shutdownDrainMs).toBe(0);
    expect(() => loadConfig({ SHUTDOWN_DRAIN_MS: '-1' })).toThrow(/SHUTDOWN_DRAIN_MS:/);
  });
});

describe('pooled database configuration', () => {
  test('DIRECT_DATABASE_URL goes beside DATABASE_URL, and alone is refused', () => {
    expect(
      loadConfig({ DATABASE_URL: 'postgres://pooler:6432/shop', DIRECT_DATABASE_URL: 'postgres://db:5432/shop' }),
    ).toMatchObject({ databaseUrl: 'postgres://pooler:6432/shop', directDatabaseUrl: 'postgres://db:5432/shop' });
    expect(loadConfig({ DATABASE_URL: 'postgres://db/shop' }).directDatabaseUrl).toBeUndefined();
    expect(() => loadConfig({ DIRECT_DATABASE_URL: 'postgres://db/shop' })).toThrow(/DIRECT_DATABASE_URL.*DATABASE_URL/);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://db/shop', DIRECT_DATABASE_URL: 'http://db' })).toThrow(/DIRECT_DATABASE_URL:/);
  });
});

describe('event retention', () => {
  test('unset: events are kept for ever, pruning (were it on) every minute', () => {
    expect(loadConfig({})).toMatchObject({ eventRetentionMs: undefined, eventPruneIntervalMs: 60_000 });
  });

  test.each([
    ['90s', 90_000],
    ['1m', 60_000],
    ['12h', 43_200_000],
    ['30d', 2_592_000_000],
    ['500ms', 500],
  ])('EVENT_RETENTION=%s is %i ms', (text, ms) => {
    expect(loadConfig({ EVENT_RETENTION: text, EVENT_PRUNE_INTERVAL: text })).toMatchObject({ eventRetentionMs: ms, eventPruneIntervalMs: ms });
  });

  test.each(['30', '0s', '-5m', '1w', '1.5h', 'soon'])('%s is refused, naming the setting', (text) => {
    expect(() => loadConfig({ EVENT_RETENTION: text })).toThrow(/EVENT_RETENTION: must be a positive duration/);
    expect(() => loadConfig({ EVENT_PRUNE_INTERVAL: text })).toThrow(/EVENT_PRUNE_INTERVAL: must be a positive duration/);
  });
});

describe('event ordering', () => {
  test('unset: positions are taken at commit; sequenced nodes look for work every 5 ms', () => {
    expect(loadConfig({})).toMatchObject({ eventOrdering: 'commit', eventSequenceIntervalMs: 5 });
  });

  test('EVENT_ORDERING=sequenced with its interval', () => {
    expect(loadConfig({ EVENT_ORDERING: 'sequenced', EVENT_SEQUENCE_INTERVAL: '50ms' })).toMatchObject({ eventOrdering: 'sequenced', eventSequenceIntervalMs: 50 });
  });

  test('an unknown mode is refused, naming the setting', () => {
    expect(() => loadConfig({ EVENT_ORDERING: 'fast' })).toThrow(/EVENT_ORDERING:/);
  });
});

describe('identity provider configuration', () => {
  const issuer = { AUTH_JWT_ISSUER: 'https://id.shop.example/realms/shop', AUTH_JWT_AUDIENCE: 'live-orders' };

  test('an issuer with its audience: JWTs accepted, roles from `roles`, 30 s of skew; frozen', () => {
    const config = loadConfig(issuer);
    expect(config.jwt).toEqual({ issuer: issuer.AUTH_JWT_ISSUER, audience: 'live-orders', roleClaim: 'roles', clockSkewMs: 30_000 });
    expect(Object.isFrozen(config.jwt)).toBe(true);
    expect(config.signIn).toBeUndefined();
  });

  test('an issuer is access control: a non-loopback HOST may listen with only an issuer', () => {
    expect(loadConfig({ ...issuer, HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
  });

  test.each([
    [{ AUTH_JWT_ISSUER: 'http://id.shop.example' , AUTH_JWT_AUDIENCE: 'a' }, /AUTH_JWT_ISSUER: must be https/],
    [{ AUTH_JWT_ISSUER: 'ftp://id.shop.example', AUTH_JWT_AUDIENCE: 'a' }, /AUTH_JWT_ISSUER: must be an http\(s\) URL/],
    [{ AUTH_JWT_ISSUER: 'https://id.shop.example?x=1', AUTH_JWT_AUDIENCE: 'a' }, /no query/],
    [{ AUTH_JWT_ISSUER: 'https://id.shop.example' }, /AUTH_JWT_AUDIENCE is required/],
    [{ AUTH_JWT_AUDIENCE: 'a' }, /AUTH_JWT_AUDIENCE is set but AUTH_JWT_ISSUER is not/],
    [{ ...issuer, AUTH_OIDC_CLIENT_ID: 'page' }, /PUBLIC_URL is required/],
    [{ ...issuer, AUTH_OIDC_CLIENT_ID: 'page', PUBLIC_URL: 'http://orders.shop.example' }, /PUBLIC_URL: must be https/],
    [{ ...issuer, AUTH_OIDC_CLIENT_SECRET: 's' }, /AUTH_OIDC_CLIENT_SECRET is set but AUTH_OIDC_CLIENT_ID is not/],
    [{ ...issuer, AUTH_JWT_CLOCK_SKEW: 'a while' }, /AUTH_JWT_CLOCK_SKEW: must be a positive duration/],
  ])('%o is refused: %s', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  test('http:// is accepted on loopback only (local use and tests)', () => {
    expect(loadConfig({ AUTH_JWT_ISSUER: 'http://127.0.0.1:9000', AUTH_JWT_AUDIENCE: 'a' }).jwt?.issuer).toBe('http://127.0.0.1:9000');
  });

  test('the page\'s sign-in: Secure cookies over https, the provider named after its host, openid always asked for', () => {
    const config = loadConfig({ ...issuer, AUTH_OIDC_CLIENT_ID: 'page', AUTH_OIDC_CLIENT_SECRET: 's3cret', PUBLIC_URL: 'https://orders.shop.example/', AUTH_OIDC_SCOPES: 'email roles' });
    expect(config.signIn).toEqual({
      clientId: 'page',
      clientSecret: 's3cret',
      publicUrl: 'https://orders.shop.example',
      secureCookies: true,
      sessionTtlMs: 3_600_000,
      scopes: 'openid email roles',
      providerName: 'id.shop.example',
    });
  });
});
