import { once } from 'node:events';
import { TRPCClientError } from '@trpc/client';
import { describe, expect } from 'vitest';
import WebSocket from 'ws';
import type { AppRouter } from '../server/routers/app.ts';
import { rowCounts } from './support/row-counts.ts';
import { testWithServer, type Client } from './support/server.ts';
import { record } from './support/subscriber.ts';

const WRITER = 'w-secret-0123456789abcdef';
const READER = 'r-secret-0123456789abcdef';
const test = testWithServer({ AUTH_TOKENS: `till:writer:${WRITER},rita:reader:${READER}` });

async function code(call: Promise<unknown>): Promise<string | undefined> {
  const err = await call.then(() => undefined, (e: unknown) => e);
  if (err === undefined) return 'ok';
  if (!(err instanceof TRPCClientError)) throw err;
  return (err as TRPCClientError<AppRouter>).data?.code ?? err.message;
}

/** Every mutation, each of which must fail for a reader and write nothing. */
function everyMutation(client: Client, id: string) {
  return {
    create: client.orders.create.mutate({ customerName: 'r', productName: 'x' }),
    createMany: client.orders.createMany.mutate({ orders: [{ customerName: 'r', productName: 'x' }] }),
    update: client.orders.update.mutate({ id, status: 'cancelled' }),
    delete: client.orders.delete.mutate({ id }),
  };
}

const eventCount = async (server: { sql: Parameters<typeof rowCounts>[0] }) => (await rowCounts(server.sql)).events;

describe('access control with tokens', () => {
  test('no token or an unknown one: UNAUTHORIZED over HTTP and WebSocket, 401 over REST', async ({ server }) => {
    for (const token of [undefined, 'not-a-token-at-all-xxxx']) {
      expect(await code(server.client({ token }).orders.list.query({}))).toBe('UNAUTHORIZED');
      expect(await code(server.client({ token, allOverWebSocket: true }).orders.list.query({}))).toBe('UNAUTHORIZED');
      const sub = record(server.client({ token }), { lastEventId: '0' });
      await expect.poll(() => sub.errors.length, { timeout: 10_000 }).toBe(1);
      expect((sub.errors[0] as TRPCClientError<AppRouter>).data?.code).toBe('UNAUTHORIZED');
    }
    expect((await fetch(`${server.url}/api/orders`)).status).toBe(401);
    const wrong = await fetch(`${server.url}/api/orders`, { headers: { authorization: 'Bearer nope-nope-nope-nope' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: expect.stringContaining('token') });
    // Open to all: health and the page.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/`)).status).toBe(200);
  });

  test('a reader reads and subscribes, and every mutation is FORBIDDEN, over HTTP and WebSocket', async ({ server }) => {
    const writer = server.client({ token: WRITER });
    const order = await writer.orders.create.mutate({ customerName: 'Owned', productName: 'by till' });
    const before = await eventCount(server);
    for (const reader of [server.client({ token: READER }), server.client({ token: READER, allOverWebSocket: true })]) {
      expect(await reader.orders.get.query({ id: order.id })).toEqual(order);
      const calls = everyMutation(reader, order.id);
      for (const [name, call] of Object.entries(calls)) expect(await code(call), name).toBe('FORBIDDEN');
    }
    const rest = await fetch(`${server.url}/api/orders/${order.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${READER}` },
      body: JSON.stringify({ status: 'cancelled' }),
    });
    expect(rest.status).toBe(403);
    expect(await eventCount(server)).toBe(before);

    const sub = record(server.client({ token: READER }), { lastEventId: String(before) });
    await writer.orders.update.mutate({ id: order.id, status: 'shipped' });
    await sub.waitForCount(1);
    expect(sub.events[0]!.order.status).toBe('shipped');
  });

  test('events name the token that made them', async ({ server }) => {
    const writer = server.client({ token: WRITER });
    const order = await writer.orders.create.mutate({ customerName: 'Audit', productName: 'trail' });
    await server.sql`update orders set status = 'confirmed' where id = ${order.id}`;
    const restWrite = await fetch(`${server.url}/api/orders/${order.id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${WRITER}` },
      body: JSON.stringify({ status: 'shipped' }),
    });
    expect(restWrite.status).toBe(200);
    const history = await writer.orders.history.query({ id: order.id });
    expect(history.map((e) => e.actor)).toEqual(['till', 'sql:postgres', 'till']);
  });

  test('WebSocket origins: a foreign Origin is refused with 403, same origin and scripts without one are not', async ({ server }) => {
    const ws = (origin?: string) => {
      const socket = new WebSocket(`${server.url.replace('http', 'ws')}/trpc`, origin ? { origin } : {});
      return new Promise<number>((resolve) => {
        socket.once('open', () => {
          socket.close();
          resolve(101);
        });
        socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      });
    };
    expect(await ws('https://evil.example')).toBe(403);
    expect(await ws(server.url)).toBe(101);
    expect(await ws()).toBe(101);
  });

  test('the page is served with strict security headers', async ({ server }) => {
    const res = await fetch(`${server.url}/`);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
