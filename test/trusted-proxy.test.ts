import { request } from 'node:http';
import { describe, expect } from 'vitest';
import type WebSocket from 'ws';
import { openWebSocketFrom } from './support/open-web-socket.ts';
import { testWithServer } from './support/server.ts';

// 127.0.0.1 plays the load balancer; 127.0.0.2 is a client that talks to the node directly.
const test = testWithServer({ TRUST_PROXY: '127.0.0.1', MAX_CONNECTIONS_PER_ADDRESS: '2', WRITE_RATE_LIMIT: '2' });

function upgrade(url: string, localAddress: string, forwardedFor: string) {
  return openWebSocketFrom(`${url.replace('http', 'ws')}/trpc`, localAddress, { 'x-forwarded-for': forwardedFor });
}

function create(url: string, localAddress: string, forwardedFor: string) {
  return new Promise<number>((resolve, reject) => {
    const req = request(`${url}/api/orders`, {
      method: 'POST',
      localAddress,
      headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
    });
    req.once('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end(JSON.stringify({ customer_name: forwardedFor, product_name: 'forwarded' }));
  });
}

describe('TRUST_PROXY', () => {
  test('WebSockets per address: a trusted proxy forwards for many clients; anyone else is one client, whatever it claims', async ({ server }) => {
    const open: WebSocket[] = [];
    const keep = (r: { status: number; socket?: WebSocket }) => {
      if (r.socket) open.push(r.socket);
      return r.status;
    };
    try {
      expect(keep(await upgrade(server.url, '127.0.0.1', '198.51.100.1'))).toBe(101);
      expect(keep(await upgrade(server.url, '127.0.0.1', '198.51.100.1'))).toBe(101);
      expect(keep(await upgrade(server.url, '127.0.0.1', '198.51.100.1'))).toBe(429);
      // The client wrote an address of its own to the left; the proxy's is the one that counts.
      expect(keep(await upgrade(server.url, '127.0.0.1', '203.0.113.5, 198.51.100.1'))).toBe(429);
      expect(keep(await upgrade(server.url, '127.0.0.1', '198.51.100.2'))).toBe(101);

      expect(keep(await upgrade(server.url, '127.0.0.2', '198.51.100.3'))).toBe(101);
      expect(keep(await upgrade(server.url, '127.0.0.2', '198.51.100.4'))).toBe(101);
      expect(keep(await upgrade(server.url, '127.0.0.2', '198.51.100.5'))).toBe(429);
    } finally {
      for (const s of open) s.terminate();
    }
  });

  test('write rate limits (access control off) are per forwarded client behind a trusted proxy, per peer otherwise', async ({ server }) => {
    expect(await create(server.url, '127.0.0.1', '198.51.100.10')).toBe(201);
    expect(await create(server.url, '127.0.0.1', '198.51.100.10')).toBe(201);
    expect(await create(server.url, '127.0.0.1', '198.51.100.10')).toBe(429);
    expect(await create(server.url, '127.0.0.1', '198.51.100.11')).toBe(201);

    expect(await create(server.url, '127.0.0.2', '198.51.100.12')).toBe(201);
    expect(await create(server.url, '127.0.0.2', '198.51.100.13')).toBe(201);
    expect(await create(server.url, '127.0.0.2', '198.51.100.14')).toBe(429);
  });
});
