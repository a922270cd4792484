import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTRPCClient, createWSClient, httpBatchLink, splitLink, wsLink } from '@trpc/client';
import postgres from 'postgres';
import { describe, expect, inject, test as plainTest, vi } from 'vitest';
import { startApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { startEmbeddedPostgres } from '../server/db/embedded.ts';
import { createLogger } from '../server/logger.ts';
import type { AppRouter } from '../server/routers/app.ts';
import type { OrderEvent } from '../shared/orders.ts';
import { startPgBouncer } from './support/pgbouncer.ts';
import { testWithServer, type TestServer } from './support/server.ts';
import { expectStrictlyIncreasing, positions, record } from './support/subscriber.ts';
import { NodeWebSocket } from './support/node-web-socket.ts';

// EVENT_ORDERING=sequenced (drizzle/0006_sequenced_log.sql): the trigger only appends, a
// sequencer gives committed events their positions in batches. This file runs in the `direct`
// and `pgbouncer` projects: the server's pool goes through PgBouncer in transaction mode there,
// sequencer batches included.
const test = testWithServer({ EVENT_ORDERING: 'sequenced' });

/** Every position after `start` up to the last, each once: no gap, no repeat. */
function expectDense(events: OrderEvent[], start: string): void {
  const p = positions(events);
  expect(p).toEqual(Array.from({ length: p.length }, (_, i) => Number(start) + 1 + i));
}

async function pendingCount(server: TestServer): Promise<number> {
  const [row] = await server.sql<[{ n: number }]>`select count(*)::int as n from order_events_pending`;
  return row.n;
}

/** The log's last position now. */
async function head(server: TestServer): Promise<string> {
  const [row] = await server.sql<[{ last: string }]>`select coalesce(max(id), 0)::text as last from order_events`;
  return row.last;
}

describe('sequenced ordering', () => {
  test('the trigger appends without a position; the sequencer positions it and NOTIFYs once per batch', async ({ server }) => {
    const payloads: string[] = [];
    const listening = await server.sql.listen('order_events', (p) => payloads.push(p));
    try {
      const start = await head(server);
      const writer = await server.sql.reserve();
      try {
        await writer`begin`;
        await writer`insert into orders (customer_name, product_name) values ('a', '1'), ('b', '2'), ('c', '3')`;
        await writer`set constraints all immediate`; // the deferred trigger fires now: appended, not positioned
        const [row] = await writer<[{ n: number }]>`select count(*)::int as n from order_events_pending`;
        expect(row.n).toBe(3);
        await writer`commit`;
      } finally {
        writer.release();
      }
      await expect.poll(async () => (await server.logAfter(start)).length).toBe(3);
      const log = await server.logAfter(start);
      expectDense(log, start);
      expect(log.map((e) => e.order.customerName)).toEqual(['a', 'b', 'c']);
      // One batch (the three committed together), one NOTIFY naming its last position.
      await expect.poll(() => payloads).toEqual([log[2]!.id]);
      expect(await pendingCount(server)).toBe(0);
    } finally {
      await listening.unlisten();
    }
  });

  test('a long transaction holds up nobody; its own events arrive after it commits, in statement order', async ({ server }) => {
    const client = server.client();
    const start = await head(server);
    const live = record(client, { lastEventId: start });
    const long = await server.sql.reserve();
    try {
      await long`begin`;
      const [mine] = await long<[{ id: string }]>`insert into orders (customer_name, product_name) values ('long', 'first') returning id`;
      await long`update orders set status = 'confirmed' where id = ${mine.id}`;
      // Open, with uncommitted changes, while others write through the API and from SQL.
      await client.orders.create.mutate({ customerName: 'other', productName: 'api' });
      await server.sql`insert into orders (customer_name, product_name) values ('other', 'sql')`;
      await client.orders.createMany.mutate({ orders: [{ customerName: 'other', productName: 'bulk' }] });
      await live.waitForCount(3);
      expect(live.events.map((e) => e.order.productName)).toEqual(['api', 'sql', 'bulk']);
      expect(await pendingCount(server)).toBe(0); // the open transaction's events are invisible to everyone else

      await long`insert into orders (customer_name, product_name) values ('long', 'second')`;
      await long`commit`;
      await live.waitForCount(6);
      expect(live.events.slice(3).map((e) => [e.type, e.order.customerName, e.order.productName])).toEqual([
        ['created', 'long', 'first'],
        ['updated', 'long', 'first'],
        ['created', 'long', 'second'],
      ]);
      expectDense(live.events, start);
      expect(live.errors).toEqual([]);
    } finally {
      long.release();
      live.stop();
    }
  });

  test('transactions that change the same order get positions in commit order: versions increase along positions', async ({ server }) => {
    const client = server.client();
    const start = await head(server);
    const targets = await client.orders.createMany.mutate({
      orders: Array.from({ length: 3 }, (_, i) => ({ customerName: 'same', productName: `order ${i}` })),
    });
    const writers = Array.from({ length: 6 }, () => postgres(server.app.databaseUrl, { max: 1, onnotice: () => {} }));
    await Promise.all(
      writers.map(async (w, n) => {
        for (let i = 0; i < 40; i++) {
          const target = targets[(n + i) % targets.length]!.id;
          if (i % 4 === 0) {
            await client.orders.update.mutate({ id: target, productName: `api ${n}.${i}` });
          } else {
            await w.begin(async (tx) => {
              await tx`update orders set product_name = ${`sql ${n}.${i}`} where id = ${target}`;
              if (i % 3 === 0) await tx`select pg_sleep(0.002)`; // commit a little later
              await tx`update orders set customer_name = ${`w${n}`} where id = ${target}`;
            });
          }
        }
      }),
    );
    await Promise.all(writers.map((w) => w.end()));
    await expect.poll(() => pendingCount(server)).toBe(0);
    const log = await server.logAfter(start);
    expectDense(log, start);
    for (const target of targets) {
      const versions = log.filter((e) => e.orderId === target.id).map((e) => e.order.version);
      expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
    }
  });

  test('several sequencers at once position every event once, densely', async ({ server }) => {
    const start = await head(server);
    const sequencers = Array.from({ length: 4 }, () => postgres(server.app.databaseUrl, { max: 1, onnotice: () => {} }));
    let writing = true;
    const racing = sequencers.map(async (s) => {
      while (writing) await s`select order_events_sequence()`;
    });
    const writers = Array.from({ length: 4 }, () => postgres(server.app.databaseUrl, { max: 1, onnotice: () => {} }));
    await Promise.all(
      writers.map(async (w, n) => {
        for (let i = 0; i < 100; i++) await w`insert into orders (customer_name, product_name) values (${`w${n}`}, ${`#${i}`})`;
      }),
    );
    writing = false;
    await Promise.all(racing);
    await Promise.all([...sequencers, ...writers].map((c) => c.end()));
    await expect.poll(() => pendingCount(server)).toBe(0);
    const log = await server.logAfter(start);
    expect(log).toHaveLength(400);
    expectDense(log, start);
    expect(new Set(log.map((e) => e.orderId)).size).toBe(400);
    for (let n = 0; n < 4; n++) {
      expect(log.filter((e) => e.order.customerName === `w${n}`).map((e) => e.order.productName)).toEqual(
        Array.from({ length: 100 }, (_, i) => `#${i}`),
      );
    }
  });

  test('a sequencer killed mid-batch positions nothing; the next batch positions every event once', async ({ server }) => {
    const client = server.client();
    const start = await head(server);
    const live = record(client, { lastEventId: start });
    await server.sql`insert into orders (customer_name, product_name) values ('before', 'kill')`;
    await live.waitForCount(1);

    // A sequencer whose batch is done but not committed. It takes the head before the writes
    // commit, so the server's own sequencer waits behind it and cannot position them first.
    const connection = postgres(server.app.databaseUrl, { max: 1, onnotice: () => {} });
    const doomed = await connection.reserve();
    try {
      await doomed`begin`;
      await doomed`select last from order_events_head for update`;
      await server.sql`insert into orders (customer_name, product_name) values ('during', 'kill'), ('during', 'kill 2')`;
      const [batch] = await doomed<[{ last: string | null }]>`select order_events_sequence()::text as last`;
      expect(batch.last).toBe(String(Number(start) + 3));
      const [{ pid }] = await doomed<[{ pid: number }]>`select pg_backend_pid() as pid`;
      await server.sql`select pg_terminate_backend(${pid})`;
      await expect(doomed`select 1`).rejects.toThrow();
    } finally {
      doomed.release();
      await connection.end({ timeout: 1 });
    }

    await server.sql`insert into orders (customer_name, product_name) values ('after', 'kill')`;
    await live.waitForCount(4);
    expect(live.events.map((e) => e.order.productName)).toEqual(['kill', 'kill', 'kill 2', 'kill']);
    expectDense(live.events, start);
    expect(await server.logAfter(start)).toEqual(live.events);
    expect(live.errors).toEqual([]);
    live.stop();
  });

  test('orders.list sees a committed change whose event has no position yet: lastEventId still means every change in these rows, none after', async ({ server }) => {
    const client = server.client();
    const start = await head(server);
    // A sequencer that holds the head keeps everything committed from here on unpositioned.
    const holder = await server.sql.reserve();
    try {
      await holder`begin`;
      await holder`select last from order_events_head for update`;
      await server.sql`insert into orders (customer_name, product_name) values ('unpositioned', 'x')`;
      const listing = client.orders.list.query({ limit: 1000 });
      // orders.list must position what its snapshot sees, so it waits for the head too.
      await expect
        .poll(async () => (await server.sql`select 1 from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()`).length)
        .toBeGreaterThanOrEqual(1);
      await holder`commit`;
      const page = await listing;
      expect(page.orders.some((o) => o.customerName === 'unpositioned')).toBe(true);
      const log = await server.logAfter(start);
      expect(log.map((e) => e.order.customerName)).toEqual(['unpositioned']);
      expect(page.lastEventId).toBe(log[0]!.id);
    } finally {
      holder.release();
    }
  });

  test('orders.list under steady writes: every snapshot plus the events after its lastEventId is the table, none missed, none twice', async ({ server }) => {
    const client = server.client();
    const writers = Array.from({ length: 4 }, () => postgres(server.app.databaseUrl, { max: 1, onnotice: () => {} }));
    let writing = true;
    const seeded = await client.orders.createMany.mutate({ orders: Array.from({ length: 8 }, (_, i) => ({ customerName: 'steady', productName: `${i}` })) });
    const ids = seeded.map((o) => o.id);
    const loops = writers.map(async (w, n) => {
      for (let i = 0; writing; i++) await w`update orders set product_name = ${`w${n}.${i}`} where id = ${ids[(n + i) % ids.length]!}`;
    });
    try {
      for (let round = 0; round < 15; round++) {
        const before = BigInt(ids[0]!) - 1n;
        const page = await client.orders.list.query({ ...(before > 0n ? { cursor: String(before) } : {}), limit: ids.length });
        const versions = new Map(page.orders.filter((o) => ids.includes(o.id)).map((o) => [o.id, o.version]));
        // The events after lastEventId must start exactly one version above the snapshot's.
        const after = await server.logAfter(page.lastEventId);
        const firstAfter = new Map<string, number>();
        for (const e of after) if (!firstAfter.has(e.orderId)) firstAfter.set(e.orderId, e.order.version);
        for (const [id, version] of firstAfter) expect(version, `order ${id} after ${page.lastEventId}`).toBe(versions.get(id)! + 1);
        // And the events up to it end exactly at the snapshot's versions.
        const upTo = (await server.logAfter('0')).filter((e) => !(Number(e.id) > Number(page.lastEventId)));
        const lastUpTo = new Map<string, number>();
        for (const e of upTo) lastUpTo.set(e.orderId, e.order.version);
        for (const id of ids) expect(lastUpTo.get(id), `order ${id} up to ${page.lastEventId}`).toBe(versions.get(id));
      }
    } finally {
      writing = false;
      await Promise.all(loops);
      await Promise.all(writers.map((w) => w.end()));
    }
  });

  test('live_orders_publish_delay_seconds shows the delay sequencing adds', async ({ server }) => {
    await expect.poll(() => pendingCount(server)).toBe(0); // what earlier tests wrote is in
    const start = await head(server);
    const delaySum = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Number(/^live_orders_publish_delay_seconds_sum (\S+)$/m.exec(text)?.[1]);
    };
    const before = await delaySum();
    // The event waits unpositioned while a sequencer (this connection) holds the head.
    const holder = await server.sql.reserve();
    try {
      await holder`begin`;
      await holder`select last from order_events_head for update`;
      await server.sql`insert into orders (customer_name, product_name) values ('delay', 'measured')`;
      const committedAt = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 300)); // the delay to be measured, not a wait for a condition
      await holder`commit`;
      await vi.waitFor(() => expect(server.app.hub.position).toBe(String(Number(start) + 1)));
      const waited = (performance.now() - committedAt) / 1000;
      const added = (await delaySum()) - before;
      expect(added).toBeGreaterThanOrEqual(0.3);
      expect(added).toBeLessThanOrEqual(waited + 1);
    } finally {
      holder.release();
    }
  });
});

describe('switching an existing database between modes', () => {
  test('events pending when a commit-ordering node starts are positioned before its first own event; and back', async ({ server }) => {
    const start = await head(server);
    // An event appended in sequenced mode and not positioned yet (the sequencer is held off).
    const holder = await server.sql.reserve();
    const config = (ordering: string) =>
      loadConfig({ DATABASE_URL: server.app.databaseUrl, PORT: '0', EVENT_ORDERING: ordering, EVENT_SEQUENCE_INTERVAL: '10ms' });
    try {
      await holder`begin`;
      await holder`select last from order_events_head for update`;
      await server.sql`insert into orders (customer_name, product_name) values ('sequenced', 'left pending')`;
      const [{ n }] = await server.sql<[{ n: number }]>`select count(*)::int as n from order_events_pending where "order"->>'customerName' = 'sequenced'`;
      expect(n).toBe(1);
      // A node in commit ordering starts: it switches the database, which waits for the head.
      const starting = startApp(config('commit'), createLogger('silent'));
      await expect
        .poll(async () => (await server.sql`select 1 from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()`).length)
        .toBeGreaterThanOrEqual(1);
      await holder`commit`;
      const commitNode = await starting;
      try {
        await server.sql`insert into orders (customer_name, product_name) values ('commit', 'at once')`;
        const log = await server.logAfter(start);
        expect(log.map((e) => e.order.customerName)).toEqual(['sequenced', 'commit']);
        expectDense(log, start);
      } finally {
        await commitNode.close();
      }
      // And back: a sequenced node again; commit ordering's positions go on without a gap.
      const sequencedNode = await startApp(config('sequenced'), createLogger('silent'));
      try {
        await server.sql`insert into orders (customer_name, product_name) values ('sequenced', 'again')`;
        await expect.poll(async () => (await server.logAfter(start)).length).toBe(3);
        const log = await server.logAfter(start);
        expect(log.map((e) => e.order.productName)).toEqual(['left pending', 'at once', 'again']);
        expectDense(log, start);
      } finally {
        await sequencedNode.close();
      }
    } finally {
      holder.release();
    }
  });
});

// This one stops and starts its database, so it runs a cluster of its own (as database-outage does).
describe('a database restarted mid-batch', () => {
  plainTest('the batch rolls back whole; after the restart every event is positioned once, densely', async () => {
    const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    const flags = ['-c', 'fsync=off', '-c', 'synchronous_commit=off'];
    const dir = await mkdtemp(path.join(tmpdir(), 'live-orders-sequenced-'));
    await chmod(dir, 0o755);
    let database = await startEmbeddedPostgres(dir, log, flags);
    const pooler = inject('viaPgBouncer') ? await startPgBouncer(database.url) : undefined;
    const databaseEnv = pooler ? { DATABASE_URL: pooler.via(database.url), DIRECT_DATABASE_URL: database.url } : { DATABASE_URL: database.url };
    const app = await startApp(loadConfig({ ...databaseEnv, PORT: '0', EVENT_ORDERING: 'sequenced' }), log);
    try {
      const received: OrderEvent[] = [];
      const ws = createWSClient({ url: `${app.url.replace('http', 'ws')}/trpc`, WebSocket: NodeWebSocket, retryDelayMs: () => 50 });
      const api = createTRPCClient<AppRouter>({
        links: [splitLink({ condition: (op) => op.type === 'subscription', true: wsLink({ client: ws }), false: httpBatchLink({ url: `${app.url}/trpc` }) })],
      });
      const sub = api.orders.onChange.subscribe({ lastEventId: '0' }, { onData: (e) => received.push(e.data) });

      let sql = postgres(database.url, { max: 2, onnotice: () => {} });
      await sql`insert into orders (customer_name, product_name) values ('before', 'restart')`;
      await expect.poll(() => received.length, { timeout: 10_000 }).toBe(1);

      // As in the killed-sequencer test: the head is ours before the write commits.
      const batchConnection = postgres(database.url, { max: 1, onnotice: () => {} });
      const batch = await batchConnection.reserve();
      await batch`begin`;
      await batch`select last from order_events_head for update`;
      await sql`insert into orders (customer_name, product_name) values ('during', 'restart')`;
      const [done] = await batch<[{ last: string | null }]>`select order_events_sequence()::text as last`;
      expect(done.last).toBe('2'); // positioned in the batch, not committed
      await database.stop(); // mid-batch
      batch.release();
      await batchConnection.end({ timeout: 1 }).catch(() => {});
      await sql.end({ timeout: 1 }).catch(() => {});

      database = await startEmbeddedPostgres(dir, log, flags, database.port);
      sql = postgres(database.url, { max: 1, onnotice: () => {} });
      await sql`insert into orders (customer_name, product_name) values ('after', 'restart')`;
      await expect.poll(() => received.length, { timeout: 30_000 }).toBe(3);
      expect(received.map((e) => e.order.customerName)).toEqual(['before', 'during', 'after']);
      expect(positions(received)).toEqual([1, 2, 3]);
      expectStrictlyIncreasing(received);
      const [{ n }] = await sql<[{ n: number }]>`select count(*)::int as n from order_events_pending`;
      expect(n).toBe(0);
      sub.unsubscribe();
      await ws.close();
      await sql.end();
    } finally {
      await app.close();
      await pooler?.stop();
      await database.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
