import { describe, expect, test as plainTest, vi } from 'vitest';
import { createLiveOrders, type LiveOrders, type OrderEvent, type Transport } from 'live-orders-client';
import postgres from 'postgres';
import { migrateDatabase } from '../server/db/migrate.ts';
import { startServerProcess } from './support/server-process.ts';
import { createTestDatabase, test } from './support/server.ts';
import { tableRows } from './support/table-rows.ts';
import { NodeWebSocket } from './support/node-web-socket.ts';


const copyRows = (live: LiveOrders) => [...live.orders.values()].sort((a, b) => Number(a.id) - Number(b.id));

function recordChanges(live: LiveOrders): OrderEvent[] {
  const seen: OrderEvent[] = [];
  live.on('change', (event) => seen.push(event));
  return seen;
}

describe.each<Transport>(['websocket', 'sse'])('the client library over %s', (transport) => {
  test('loads the snapshot in pages, then applies every change once, live', async ({ server }) => {
    const writer = server.client();
    await server.sql`insert into orders (customer_name, product_name) select 'C' || i, 'P' from generate_series(1, 1500) i`;
    const live = createLiveOrders({ url: server.url, transport, WebSocket: NodeWebSocket });
    const seen = recordChanges(live);
    const states: string[] = [];
    live.on('state', (s) => states.push(s));
    await live.ready;
    // More than one page (the server shares this database with the other transport's test).
    expect(live.orders.size).toBeGreaterThanOrEqual(1500);
    expect(copyRows(live)).toEqual(await tableRows(server.sql));
    const snapshotAt = live.lastEventId!;

    const created = await writer.orders.create.mutate({ customerName: 'Ada', productName: 'Loom' });
    await writer.orders.update.mutate({ id: created.id, status: 'shipped' });
    await server.sql`delete from orders where id in (select id from orders order by id limit 10)`;
    const log = await server.logAfter(snapshotAt);
    await vi.waitFor(() => expect(seen.map((e) => e.id)).toEqual(log.map((e) => e.id)), { timeout: 10_000, interval: 20 });
    expect(copyRows(live)).toEqual(await tableRows(server.sql));
    expect(live.state).toBe('live');
    expect(states[0]).toBe('live');
    await live.close();
    expect(live.state).toBe('offline');
  });
});

describe('the client library with a filter', () => {
  test('keeps a copy of the one order asked for, and only its changes', async ({ server }) => {
    const writer = server.client();
    const [mine, other] = await writer.orders.createMany.mutate({ orders: [{ customerName: 'Mine', productName: 'P' }, { customerName: 'Other', productName: 'P' }] });
    const live = createLiveOrders({ url: server.url, WebSocket: NodeWebSocket, filter: { orderId: mine!.id } });
    const seen = recordChanges(live);
    await live.ready;
    expect([...live.orders.keys()]).toEqual([mine!.id]);
    await writer.orders.update.mutate({ id: other!.id, status: 'shipped' });
    await writer.orders.update.mutate({ id: mine!.id, status: 'confirmed' });
    await vi.waitFor(() => expect(seen).toHaveLength(1), { timeout: 10_000, interval: 20 });
    expect(seen[0]).toMatchObject({ type: 'updated', orderId: mine!.id });
    expect(live.orders.get(mine!.id)).toMatchObject({ status: 'confirmed', version: 2 });
    await live.close();
  });

  test('without a snapshot, follows only the changes after `from`, as an async iterable that ends on close()', async ({ server }) => {
    const writer = server.client();
    const from = (await writer.orders.list.query({ limit: 1 })).lastEventId;
    const made = await writer.orders.createMany.mutate({ orders: Array.from({ length: 5 }, (_, i) => ({ customerName: `N${i}`, productName: 'P', status: i % 2 ? 'shipped' : 'pending' })) });
    const live = createLiveOrders({ url: server.url, transport: 'sse', snapshot: false, from, filter: { status: 'shipped' } });
    const got: string[] = [];
    const reading = (async () => {
      for await (const event of live.changes()) got.push(event.orderId);
    })();
    await vi.waitFor(() => expect(got).toEqual([made[1]!.id, made[3]!.id]), { timeout: 10_000, interval: 20 });
    expect(live.orders.size).toBe(0);
    await live.close();
    await reading; // ended by close()
  });
});

/** Inserts, updates and deletes in SQL, one statement at a time, until stopped. */
function keepWriting(sql: postgres.Sql) {
  let running = true;
  let writes = 0;
  const done = (async () => {
    for (let i = 0; running; i++) {
      if (i % 3 === 0) await sql`insert into orders (customer_name, product_name) values (${'W' + i}, 'P')`;
      else if (i % 3 === 1) await sql`update orders set status = 'shipped', product_name = ${'P' + i} where id = (select id from orders order by random() limit 1)`;
      else await sql`delete from orders where id = (select id from orders order by random() limit 1)`;
      writes++;
    }
  })();
  return {
    writes: () => writes,
    async stop() {
      running = false;
      await done;
    },
  };
}

describe.each<Transport>(['websocket', 'sse'])('the client library over %s, when its server is killed', (transport) => {
  plainTest('resumes after the server restarts, while writes go on: the copy equals the table, every change seen once', async () => {
    const database = await createTestDatabase();
    await migrateDatabase(database.url);
    const sql = postgres(database.url, { max: 3, onnotice: () => {} });
    await sql`insert into orders (customer_name, product_name) select 'C' || i, 'P' from generate_series(1, 200) i`;
    let server = await startServerProcess({ DATABASE_URL: database.url });
    const live = createLiveOrders({ url: server.url, transport, WebSocket: NodeWebSocket, retryDelayMs: () => 100 });
    const seen = recordChanges(live);
    const states: string[] = [];
    live.on('state', (s) => states.push(s));
    try {
      await live.ready;
      const snapshotAt = live.lastEventId!;
      const writer = keepWriting(sql);
      await vi.waitFor(() => expect(seen.length).toBeGreaterThan(30), { timeout: 10_000, interval: 10 });

      await server.kill('SIGKILL');
      const atKill = writer.writes();
      await vi.waitFor(() => expect(live.state).not.toBe('live'), { timeout: 10_000, interval: 10 });
      // Changes the client cannot see yet: the server is down while they commit.
      await vi.waitFor(() => expect(writer.writes()).toBeGreaterThan(atKill + 30), { timeout: 10_000, interval: 10 });
      server = await startServerProcess({ DATABASE_URL: database.url, PORT: String(server.port) });
      await vi.waitFor(() => expect(live.state).toBe('live'), { timeout: 20_000, interval: 20 });
      const atRestart = writer.writes();
      await vi.waitFor(() => expect(writer.writes()).toBeGreaterThan(atRestart + 30), { timeout: 10_000, interval: 10 });
      await writer.stop();

      const [{ head }] = await sql<[{ head: string }]>`select max(id)::text as head from order_events`;
      await vi.waitFor(() => expect(live.lastEventId).toBe(head), { timeout: 20_000, interval: 20 });
      const log = await sql<Array<{ id: string }>>`select id::text from order_events where id > ${snapshotAt} order by order_events.id`;
      expect(seen.map((e) => e.id)).toEqual(log.map((e) => e.id));
      expect(copyRows(live)).toEqual(await tableRows(sql));
      expect(states).toEqual(expect.arrayContaining(['live', 'reconnecting']));
      await vi.waitFor(() => expect(live.caughtUp).not.toBeNull(), { timeout: 10_000, interval: 20 });
    } finally {
      await live.close();
      await server.kill('SIGTERM');
      await sql.end();
      await database.drop();
    }
  });
});
