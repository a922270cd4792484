import { once } from 'node:events';
import { describe, expect } from 'vitest';
import WebSocket from 'ws';
import { testWithServer } from './support/server.ts';

// Each limit answers with a clear error and writes nothing.
const test = testWithServer({ WRITE_RATE_LIMIT: '5', MAX_CONNECTIONS_PER_ADDRESS: '3', MAX_BODY_BYTES: '4096' });

describe('limits', () => {
  test('bodies, WebSocket messages, batches, subscriptions and connections are capped', async ({ server }) => {
    const big = JSON.stringify({ customerName: 'x'.repeat(5000), productName: 'y' });
    expect((await fetch(`${server.url}/trpc/orders.create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big })).status).toBe(413);

    // A WebSocket message over the cap closes that connection (1009), and nothing is written.
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/trpc`);
    await once(socket, 'open');
    socket.send(JSON.stringify({ id: 1, method: 'mutation', params: { path: 'orders.create', input: JSON.parse(big) } }));
    const [closeCode] = await once(socket, 'close');
    expect(closeCode).toBe(1009);

    // More operations in one HTTP batch than allowed.
    const paths = Array.from({ length: 201 }, () => 'orders.list').join(',');
    const batch = await fetch(`${server.url}/trpc/${paths}?batch=1&input=${encodeURIComponent('{}')}`);
    expect(batch.status).toBe(400);

    // Subscriptions per connection.
    const raw = new WebSocket(`${server.url.replace('http', 'ws')}/trpc`);
    const errors: string[] = [];
    raw.on('message', (m) => {
      if (String(m) === 'PING') return; // keep-alive
      const message = JSON.parse(String(m));
      if (message.error) errors.push(message.error.data?.code);
    });
    await once(raw, 'open');
    for (let id = 1; id <= 33; id++) {
      raw.send(JSON.stringify({ id, method: 'subscription', params: { path: 'orders.onChange', input: {} } }));
    }
    await expect.poll(() => errors, { timeout: 10_000 }).toEqual(['TOO_MANY_REQUESTS']);

    // Connections per client address: `raw` is open; two more fit under the cap of three.
    const opened: WebSocket[] = [];
    let refusedWith: number | undefined;
    while (refusedWith === undefined && opened.length < 5) {
      const next = new WebSocket(`${server.url.replace('http', 'ws')}/trpc`);
      refusedWith = await new Promise<number | undefined>((resolve) => {
        next.once('open', () => resolve(undefined));
        next.once('unexpected-response', (_req, res) => resolve(res.statusCode));
      });
      if (refusedWith === undefined) opened.push(next);
    }
    expect(opened).toHaveLength(2);
    expect(refusedWith).toBe(429);
    for (const s of [raw, ...opened]) s.close();
  });

  test('writes over the rate get 429 with Retry-After, and write nothing', async ({ server }) => {
    // A burst far over the rate, sent at once: only the bucket's worth (5, plus whatever
    // refills while the burst is in flight) may pass.
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        fetch(`${server.url}/api/orders`, { method: 'POST', body: JSON.stringify({ customer_name: `r${i}`, product_name: 'p' }) }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    const created = statuses.filter((s) => s === 201).length;
    expect(created + statuses.filter((s) => s === 429).length).toBe(30);
    expect(created).toBeLessThan(30);
    const limited = responses.find((r) => r.status === 429)!;
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited.json()).toEqual({ error: expect.stringContaining('too many writes') });
    const [{ n }] = await server.sql<[{ n: number }]>`select count(*)::int as n from orders where customer_name like 'r%'`;
    expect(n).toBe(created);

    const trpc = await Promise.all(
      Array.from({ length: 30 }, () =>
        fetch(`${server.url}/trpc/orders.create`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ customerName: 'x', productName: 'y' }),
        }),
      ),
    );
    const refused = trpc.find((r) => r.status === 429);
    expect(refused?.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
  });
});
