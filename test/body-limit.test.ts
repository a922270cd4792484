import { describe, expect } from 'vitest';
import { testWithServer } from './support/server.ts';

const test = testWithServer({ MAX_BODY_BYTES: '65536' });

const MIB = 1024 * 1024;
const bigOrder = JSON.stringify({ customerName: 'x'.repeat(MIB), productName: 'y' });
const bigRestOrder = JSON.stringify({ customer_name: 'x'.repeat(MIB), product_name: 'y' });

/** The same bytes sent without a Content-Length, in chunks, as a stream is. */
function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset + 16_384));
      offset += 16_384;
    },
  });
}

// Node's fetch (undici) reports a reset connection as "fetch failed" even when the response had
// arrived: the server must read and discard the rest of the body, or close only after replying.
describe('a body over MAX_BODY_BYTES', () => {
  const routes: Array<[string, string, string]> = [
    ['POST', '/trpc/orders.create', bigOrder],
    ['POST', '/trpc/orders.create?batch=1', JSON.stringify({ 0: JSON.parse(bigOrder) })],
    ['POST', '/trpc/orders.createMany', JSON.stringify({ orders: [JSON.parse(bigOrder)] })],
    ['POST', '/api/orders', bigRestOrder],
    ['PATCH', '/api/orders/1', bigRestOrder],
  ];

  for (const [method, path, body] of routes) {
    for (const framing of ['content-length', 'chunked'] as const) {
      test(`${method} ${path} (${framing}): 413 readable by fetch, nothing written`, async ({ server }) => {
        const response = await fetch(`${server.url}${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          body: framing === 'chunked' ? chunked(body) : body,
          duplex: 'half',
        } as RequestInit);
        expect(response.status).toBe(413);
        const text = await response.text();
        expect(text).toMatch(/larger than|too large|PAYLOAD_TOO_LARGE/i);
        const [{ n }] = await server.sql<[{ n: number }]>`select count(*)::int as n from orders`;
        expect(n).toBe(0);
        // The connection (or a new one) still serves.
        expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      });
    }
  }

  test('routes that take no body still answer readably when sent one', async ({ server }) => {
    for (const path of ['/healthz', '/api/nowhere', '/']) {
      const response = await fetch(`${server.url}${path}`, { method: 'POST', body: bigRestOrder });
      expect(response.status).toBeGreaterThanOrEqual(200);
      await response.text();
    }
  });
});
