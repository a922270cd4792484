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
