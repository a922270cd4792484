import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startApp, type App } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import type { AppRouter } from '../server/routers/app.ts';
import { createTestDatabase } from './support/server.ts';
import { NodeWebSocket } from './support/node-web-socket.ts';

const WRITER = 'writer-secret-do-not-log-0001';
const SECRET_BODY = 'body-text-do-not-log';
type Line = Record<string, unknown>;

let app: App;
let drop: () => Promise<void>;
const lines: Line[] = [];
const raw: string[] = [];

beforeAll(async () => {
  const database = await createTestDatabase();
  drop = database.drop;
  const config = loadConfig({ DATABASE_URL: database.url, PORT: '0', AUTH_TOKENS: `shop:writer:${WRITER}`, TRUST_PROXY: '127.0.0.1' });
  const log = pino({ level: 'info' }, { write: (s: string) => (raw.push(s), lines.push(JSON.parse(s))) });
  app = await startApp(config, log);
});
afterAll(async () => {
  await app?.close();
  await drop?.();
});

const requestLines = () => lines.filter((l) => l.msg === 'request');

describe('request logs', () => {
  test('one JSON line per HTTP request: route or procedure, status, duration, client address, request id; no token, no body, no query', async () => {
    const res = await fetch(`${app.url}/api/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITER}`, 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.20' },
      body: JSON.stringify({ customer_name: SECRET_BODY, product_name: 'p' }),
    });
    expect(res.status).toBe(201);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await expect.poll(() => requestLines().filter((l) => l.requestId === id)).toHaveLength(1);
    expect(requestLines().find((l) => l.requestId === id)).toMatchObject({
      method: 'POST',
      route: '/api/orders',
      status: 201,
      client: '198.51.100.20',
      ms: expect.any(Number),
    });

    const input = encodeURIComponent(JSON.stringify({ 0: { id: '1' }, 1: { limit: 5 } }));
    const batch = await fetch(`${app.url}/trpc/orders.get,orders.list?batch=1&input=${input}&${SECRET_BODY}=1`, {
      headers: { authorization: `Bearer ${WRITER}` },
    });
    const batchId = batch.headers.get('x-request-id');
    await expect.poll(() => requestLines().filter((l) => l.requestId === batchId)).toHaveLength(1);
    expect(requestLines().find((l) => l.requestId === batchId)).toMatchObject({
      route: '/trpc',
      procedure: 'orders.get,orders.list',
      status: batch.status,
      client: '127.0.0.1',
    });

    const unauthorized = await fetch(`${app.url}/api/orders/1`, { headers: { authorization: 'Bearer wrong-token-also-not-logged' } });
    expect(unauthorized.status).toBe(401);
    const unauthorizedId = unauthorized.headers.get('x-request-id');
    await expect.poll(() => requestLines().find((l) => l.requestId === unauthorizedId)?.route).toBe('/api/orders/:id');

    const everything = raw.join('');
    expect(everything).not.toContain(WRITER);
    expect(everything).not.toContain('wrong-token-also-not-logged');
    expect(everything).not.toContain(SECRET_BODY);
    expect(everything).not.toMatch(/authorization/i);
  });

  test('over WebSocket: a line for the upgrade, and one per call, under the connection request id', async () => {
    const wsClient = createWSClient({
      url: `${app.url.replace('http', 'ws')}/trpc`,
      WebSocket: NodeWebSocket,
      connectionParams: { token: WRITER },
    });
    const client = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] });
    await client.orders.create.mutate({ customerName: SECRET_BODY, productName: 'ws' });
    await wsClient.close();

    const upgrade = requestLines().find((l) => l.transport === 'websocket' && l.status === 101);
    expect(upgrade).toMatchObject({ route: '/trpc', client: '127.0.0.1', requestId: expect.any(String) });
    const call = requestLines().find((l) => l.procedure === 'orders.create');
    expect(call).toMatchObject({ transport: 'websocket', type: 'mutation', code: 'OK', requestId: upgrade!.requestId, client: '127.0.0.1' });
    expect(raw.join('')).not.toContain(WRITER);
    expect(raw.join('')).not.toContain(SECRET_BODY);
  });
});
