import postgres from 'postgres';
import { describe, expect, inject } from 'vitest';
import { LISTENER_APPLICATION_NAME } from '../server/events/listener.ts';
import { promtoolCheck, sample } from './support/metrics-text.ts';
import { startTestServer, test } from './support/server.ts';
import { record } from './support/subscriber.ts';

const scrape = async (url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${url}/metrics`, { headers });
  expect(res.status).toBe(200);
  return res.text();
};

describe('/metrics', () => {
  test('passes promtool check metrics, with every series of the contract and the process defaults', async ({ server }) => {
    // Some traffic first, so the request and procedure durations have samples.
    const client = server.client();
    await client.orders.list.query({});
    await fetch(`${server.url}/api/orders/1`);
    await server.disconnect(client);
    const text = await scrape(server.url);

    const { code, output } = await promtoolCheck(text);
    expect(output).toBe('');
    expect(code).toBe(0);
    const types = Object.fromEntries([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
    expect(types).toMatchObject({
      live_orders_websocket_connections: 'gauge',
      live_orders_subscriptions: 'gauge',
      live_orders_events_published_total: 'counter',
      live_orders_events_delivered_total: 'counter',
      live_orders_log_position: 'gauge',
      live_orders_publish_delay_seconds: 'histogram',
      live_orders_subscriber_overflows_total: 'counter',
      live_orders_database_up: 'gauge',
      live_orders_http_request_duration_seconds: 'histogram',
      live_orders_procedure_duration_seconds: 'histogram',
      process_cpu_seconds_total: 'counter',
      nodejs_heap_size_used_bytes: 'gauge',
    });
    expect(sample(text, 'live_orders_database_up')).toBe(1);
    expect(sample(text, 'live_orders_procedure_duration_seconds_count', { procedure: 'orders.list', type: 'query', transport: 'http', code: 'OK' })).toBe(1);
    expect(sample(text, 'live_orders_http_request_duration_seconds_count', { route: '/api/orders/:id', method: 'GET', status: '404' })).toBe(1);
    expect(sample(text, 'live_orders_http_request_duration_seconds_count', { route: '/trpc', method: 'GET', status: '200' })).toBe(1);
  });

  test('N subscribers and M events: M more published, N x M more delivered; the gauges count what is open', async ({ server }) => {
    const N = 3;
    const M = 25;
    const clients = Array.from({ length: N }, () => server.client());
    const { lastEventId } = await clients[0]!.events.list.query({});
    const recorders = clients.map((c) => record(c, { lastEventId }));
    await expect.poll(async () => sample(await scrape(server.url), 'live_orders_subscriptions', { transport: 'websocket' }), { timeout: 10_000 }).toBe(N);
    const before = await scrape(server.url);
    expect(sample(before, 'live_orders_websocket_connections')).toBe(N);
    expect(sample(before, 'live_orders_subscriptions', { transport: 'sse' })).toBe(0);

    await server.sql`insert into orders (customer_name, product_name) select 'm' || g, 'metrics' from generate_series(1, ${M}) g`;
    await Promise.all(recorders.map((r) => r.waitForCount(M)));
    const after = await scrape(server.url);

    const delta = (name: string, labels?: Record<string, string>) => sample(after, name, labels)! - (sample(before, name, labels) ?? 0);
    expect(delta('live_orders_events_published_total')).toBe(M);
    expect(delta('live_orders_events_delivered_total', { transport: 'websocket' })).toBe(N * M);
    expect(delta('live_orders_publish_delay_seconds_count')).toBe(M);
    const [{ last }] = await server.sql<[{ last: string }]>`select max(id)::text as last from order_events`;
    expect(sample(after, 'live_orders_log_position')).toBe(Number(last));

    for (const r of recorders) r.stop();
    await Promise.all(clients.map((c) => server.disconnect(c)));
    await expect.poll(async () => sample(await scrape(server.url), 'live_orders_subscriptions', { transport: 'websocket' }), { timeout: 10_000 }).toBe(0);
    expect(sample(await scrape(server.url), 'live_orders_websocket_connections')).toBe(0);
  });

  test('lag shows while the listener is held back: the position stays behind the log, then the delay of what it publishes late', async ({ server }) => {
    const [{ db }] = await server.sql<[{ db: string }]>`select current_database() as db`;
    const slow = (text: string) =>
      sample(text, 'live_orders_publish_delay_seconds_count')! - sample(text, 'live_orders_publish_delay_seconds_bucket', { le: '1' })!;
    const before = await scrape(server.url);

    // Hold the listener back: cut its connection and let no new one in. Our connection is
    // already open, so we can still commit changes it does not hear about.
    const admin = postgres(inject('adminDatabaseUrl'), { max: 1, onnotice: () => {} });
    await admin.unsafe(`alter database "${db}" allow_connections false`);
    try {
      await server.sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${LISTENER_APPLICATION_NAME} and datname = ${db}`;
      await expect.poll(() => server.app.listener.state, { timeout: 5_000 }).not.toBe('listening');
      expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
      await server.sql`insert into orders (customer_name, product_name) values ('held', 'back'), ('held', 'back')`;
      const [{ last }] = await server.sql<[{ last: string }]>`select max(id)::text as last from order_events`;
      const held = await scrape(server.url);
      expect(sample(held, 'live_orders_log_position')).toBeLessThan(Number(last));
      // Held for more than a second, so what it publishes later took more than a second.
      await new Promise((resolve) => setTimeout(resolve, 1_200));
    } finally {
      await admin.unsafe(`alter database "${db}" allow_connections true`);
      await admin.end();
    }
    const [{ last }] = await server.sql<[{ last: string }]>`select max(id)::text as last from order_events`;
    await expect.poll(async () => sample(await scrape(server.url), 'live_orders_log_position'), { timeout: 15_000 }).toBe(Number(last));
    const after = await scrape(server.url);
    expect(slow(after) - slow(before)).toBe(2);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  test('with tokens, any configured token may read /metrics, and nobody else', async () => {
    const reader = 'metrics-reader-secret-0123';
    const server = await startTestServer({ AUTH_TOKENS: `prom:reader:${reader},shop:writer:writer-secret-0123456789` });
    try {
      expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer not-a-token-at-all' } })).status).toBe(401);
      const text = await scrape(server.url, { authorization: `Bearer ${reader}` });
      expect(sample(text, 'live_orders_database_up')).toBe(1);
      await scrape(server.url, { authorization: 'Bearer writer-secret-0123456789' });
    } finally {
      await server.close();
    }
  });
});
