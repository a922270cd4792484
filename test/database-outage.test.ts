import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTRPCClient, createWSClient, httpBatchLink, splitLink, TRPCClientError, wsLink } from '@trpc/client';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { startApp, type App } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../server/db/embedded.ts';
import { createLogger } from '../server/logger.ts';
import type { AppRouter } from '../server/routers/app.ts';
import type { OrderEvent } from '../shared/orders.ts';
import { startPgBouncer, type PgBouncer } from './support/pgbouncer.ts';
import { expectStrictlyIncreasing } from './support/subscriber.ts';
import { NodeWebSocket } from './support/node-web-socket.ts';

// This file stops and starts its database, so it runs its own cluster, not the shared one.
// In the `pgbouncer` project the server's pool goes through a PgBouncer of its own, which stays
// up while PostgreSQL behind it stops and comes back at the same port.
const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
const FLAGS = ['-c', 'fsync=off', '-c', 'synchronous_commit=off'];
let dir: string;
let database: EmbeddedDatabase;
let app: App;
let pooler: PgBouncer | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'live-orders-outage-'));
  await chmod(dir, 0o755);
  database = await startEmbeddedPostgres(dir, log, FLAGS);
  pooler = inject('viaPgBouncer') ? await startPgBouncer(database.url) : undefined;
  const databaseEnv = pooler
    ? { DATABASE_URL: pooler.via(database.url), DIRECT_DATABASE_URL: database.url }
    : { DATABASE_URL: database.url };
  const ordering = inject('eventOrdering');
  app = await startApp(loadConfig({ ...databaseEnv, PORT: '0', ...(ordering ? { EVENT_ORDERING: ordering } : {}) }), log);
});

afterAll(async () => {
  await app?.close();
  await pooler?.stop();
  await database?.stop();
  await rm(dir, { recursive: true, force: true });
});

function client() {
  const ws = createWSClient({
    url: `${app.url.replace('http', 'ws')}/trpc`,
    WebSocket: NodeWebSocket,
    retryDelayMs: () => 50,
  });
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: wsLink({ client: ws }),
        false: httpBatchLink({ url: `${app.url}/trpc` }),
      }),
    ],
  });
}

describe('when the database goes away and comes back', () => {
  test('requests fail fast and say so, nothing is half-written, and everything resumes by itself', async () => {
    const api = client();
    const { lastEventId } = await api.events.list.query({});
    const received: OrderEvent[] = [];
    const errors: unknown[] = [];
    api.orders.onChange.subscribe({ lastEventId }, { onData: (e) => received.push(e.data), onError: (e) => errors.push(e) });

    await api.orders.create.mutate({ customerName: 'before', productName: 'outage' });
    await expect.poll(() => received.length, { timeout: 10_000 }).toBe(1);

    await database.stop();

    const rest = await fetch(`${app.url}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customer_name: 'during', product_name: 'outage' }),
    });
    expect(rest.status).toBe(503);
    expect(await rest.json()).toEqual({ error: 'database unavailable' });

    const trpcError = await api.orders.create.mutate({ customerName: 'during', productName: 'outage' }).catch((e: unknown) => e);
    expect(trpcError).toBeInstanceOf(TRPCClientError);
    expect((trpcError as TRPCClientError<AppRouter>).data?.code).toBe('INTERNAL_SERVER_ERROR');
    expect((trpcError as TRPCClientError<AppRouter>).message).toMatch(/database unavailable/);

    const health = await fetch(`${app.url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ ok: false, database: 'down' });
    // Not ready either: a load balancer sends new clients elsewhere meanwhile.
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false, database: 'down' });
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/^live_orders_database_up 0$/m);

    // Back at the same address. A write lands at once, from SQL, most likely before the
    // listener has reconnected: only its catch-up read can deliver it.
    database = await startEmbeddedPostgres(dir, log, FLAGS, database.port);
    const sql = postgres(database.url, { max: 1 });
    await sql`insert into orders (customer_name, product_name) values ('right after', 'restart')`;
    await sql.end();

    await expect.poll(async () => (await fetch(`${app.url}/healthz`)).status, { timeout: 20_000, interval: 100 }).toBe(200);
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
    await api.orders.create.mutate({ customerName: 'after', productName: 'outage' });

    await expect.poll(() => received.length, { timeout: 20_000 }).toBe(3);
    expect(received.map((e) => e.order.customerName)).toEqual(['before', 'right after', 'after']);
    expectStrictlyIncreasing(received);
    expect(errors).toEqual([]);
    // Nothing from the failed attempts was written.
    const all = await api.events.list.query({ after: lastEventId });
    expect(all.events.map((e) => e.order.customerName)).toEqual(['before', 'right after', 'after']);
  });
});
