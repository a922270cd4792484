import { describe, expect, test } from 'vitest';
import { createClientAddressOf, trustedProxyProblem } from './client-address.ts';

describe('client address behind trusted proxies', () => {
  const behindLb = createClientAddressOf(['10.0.0.1', '192.168.0.0/16', 'fd00::/8']);

  test('without TRUST_PROXY the peer is the client, whatever X-Forwarded-For says', () => {
    const direct = createClientAddressOf([]);
    expect(direct('127.0.0.2', '203.0.113.9')).toBe('127.0.0.2');
    expect(direct('::ffff:127.0.0.2', undefined)).toBe('127.0.0.2');
    expect(direct(undefined, '203.0.113.9')).toBe('unknown');
  });

  test('a peer that is not a trusted proxy: its X-Forwarded-For is ignored', () => {
    expect(behindLb('203.0.113.7', '198.51.100.1')).toBe('203.0.113.7');
    expect(behindLb('10.0.0.2', '198.51.100.1')).toBe('10.0.0.2');
  });

  test('a trusted proxy: the right-most address that is not a trusted proxy', () => {
    expect(behindLb('10.0.0.1', '198.51.100.1')).toBe('198.51.100.1');
    // The client wrote the first two itself; only what our proxies appended counts.
    expect(behindLb('10.0.0.1', '1.1.1.1, 2.2.2.2, 198.51.100.1')).toBe('198.51.100.1');
    // Through two of our proxies.
    expect(behindLb('10.0.0.1', '1.1.1.1, 198.51.100.1, 192.168.4.4')).toBe('198.51.100.1');
    expect(behindLb('::ffff:10.0.0.1', ['1.1.1.1', '198.51.100.1'])).toBe('198.51.100.1');
    expect(behindLb('fd00::1', '2001:db8::5')).toBe('2001:db8::5');
    expect(behindLb('10.0.0.1', '[2001:DB8::5]:4711')).toBe('2001:db8::5');
    expect(behindLb('10.0.0.1', '198.51.100.1:4711')).toBe('198.51.100.1');
  });

  test('a trusted proxy without X-Forwarded-For, or with only proxies in it', () => {
    expect(behindLb('10.0.0.1', undefined)).toBe('10.0.0.1');
    expect(behindLb('10.0.0.1', '')).toBe('10.0.0.1');
    expect(behindLb('10.0.0.1', '192.168.1.1, 192.168.2.2')).toBe('192.168.1.1');
  });

  test('garbage in the header never becomes an address: the last believable hop stands', () => {
    expect(behindLb('10.0.0.1', 'evil, 198.51.100.1')).toBe('198.51.100.1');
    expect(behindLb('10.0.0.1', '198.51.100.1, not-an-ip')).toBe('10.0.0.1');
    expect(behindLb('10.0.0.1', '198.51.100.1, 192.168.0.9, <script>')).toBe('10.0.0.1');
    expect(behindLb('10.0.0.1', '1.1.1.1, unknown, 192.168.0.9')).toBe('192.168.0.9');
  });

  test('a very long header costs a bounded walk', () => {
    const long = Array.from({ length: 10_000 }, () => '192.168.0.1').join(',');
    expect(behindLb('10.0.0.1', long)).toBe('192.168.0.1');
  });
});

describe('TRUST_PROXY entries', () => {
  test.each(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '0.0.0.0/0'])('%s is accepted', (entry) => {
    expect(trustedProxyProblem(entry)).toBeUndefined();
  });
  test.each(['localhost', '10.0.0.0/33', '10.0.0.0/x', '::1/129', '1.2.3.4/8/9', ''])('%s is refused', (entry) => {
    expect(trustedProxyProblem(entry)).toMatch(/not an address|prefix/);
  });
});
