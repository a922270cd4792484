import { BlockList, isIP } from 'node:net';

/**
 * Who a request comes from, as far as we can believe it. Behind a load balancer every
 * connection's peer is the balancer, so per-address limits would treat all clients as one.
 * The balancer says who its client was in `X-Forwarded-For`, appending to whatever the client
 * itself sent there; so only the addresses appended by proxies we trust can be believed, and
 * those are at the right-hand end. Walking from the right, the first address that is not one
 * of our proxies is the client. A peer we do not trust may write anything in the header, so
 * for it the header is ignored and the peer is the client.
 */
export type ClientAddressOf = (peer: string | undefined, forwardedFor: string | string[] | undefined) => string;

/** More hops than any real chain of proxies; bounds the work a long header can cause. */
const MAX_HOPS = 32;

/** `10.0.0.1`, `::1`, `10.0.0.0/8`, `fd00::/8`: whether `entry` is one TRUST_PROXY accepts. */
export function trustedProxyProblem(entry: string): string | undefined {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return `"${entry}" is not an address or CIDR`;
  if (prefix === undefined) return undefined;
  const bits = Number(prefix);
  if (!/^\d{1,3}$/.test(prefix) || bits > (family === 4 ? 32 : 128)) return `"${entry}" has a bad prefix length`;
  return undefined;
}

/** A resolver for the given proxies (entries already checked with `trustedProxyProblem`). */
export function createClientAddressOf(trustedProxies: readonly string[]): ClientAddressOf {
  if (trustedProxies.length === 0) return (peer) => normalize(peer) ?? 'unknown';
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const [address = '', prefix] = entry.split('/');
    const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) trusted.addAddress(address, type);
    else trusted.addSubnet(address, Number(prefix), type);
  }
  const isTrusted = (address: string) => trusted.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');

  return (peer, forwardedFor) => {
    let client = normalize(peer);
    if (client === undefined) return 'unknown';
    if (!isTrusted(client) || forwardedFor === undefined) return client;
    // Node joins repeated headers with ", "; a proxy may also have added a header of its own.
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    for (let i = hops.length - 1; i >= Math.max(0, hops.length - MAX_HOPS); i--) {
      const hop = normalize(hops[i]!.trim());
      // Garbage where an address should be: a trusted proxy reported it, so the client is
      // not knowable past here; the last address we could believe stands.
      if (hop === undefined) return client;
      client = hop;
      if (!isTrusted(hop)) return hop;
    }
    return client;
  };
}

/** A plain address: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as IPv4, brackets and an IPv4 port dropped. */
function normalize(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let address = raw;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1]!;
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(address);
  if (withPort) address = withPort[1]!;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) address = mapped[1]!;
  return isIP(address) === 0 ? undefined : address.toLowerCase();
}
