import { describe, expect, vi } from 'vitest';
import { createLiveOrders, type LiveOrders, type OrderCounts, type ResyncNotice } from 'live-orders-client';
import { createDatabase } from '../server/db/client.ts';
import { pruneEventBatch } from '../server/db/prune-events.ts';
import { ORDER_STATUSES } from '../shared/order-status.ts';
import { NodeWebSocket } from './support/node-web-socket.ts';
import { countsOf, tableCounts } from './support/replay.ts';
import { test, type TestServer } from './support/server.ts';
import { TcpGate } from './support/tcp-gate.ts';

const headOf = async (server: TestServer) => (await server.client().events.head.query()).lastEventId;

/** API and SQL writers side by side: creates, status changes, deletes. */
async function burst(server: TestServer, rounds: number): Promise<void> {
  const client = server.client();
  const api = async () => {
    for (let i = 0; i < rounds; i++) {
      const o = await client.orders.create.mutate({ customerName: `api ${i}`, productName: 'p' });
      await client.orders.update.mutate({ id: o.id, status: ORDER_STATUSES[i % 5]! });
      if (i % 4 === 3) await client.orders.delete.mutate({ id: o.id });
    }
  };
  const sql = async () => {
    for (let i = 0; i < rounds; i++) {
      await server.sql`insert into orders (customer_name, product_name, status) values (${`sql ${i}`}, 'p', ${ORDER_STATUSES[(i + 2) % 5]!})`;
      // Only its own orders: the API writers update theirs after creating them.
      await server.sql`update orders set status = ${ORDER_STATUSES[i % 5]!} where id = (select max(id) from orders where customer_name like 'sql %')`;
      if (i % 5 === 4) await server.sql`delete from orders where id = (select min(id) from orders where customer_name like 'sql %')`;
    }
  };
  await Promise.all([api(), sql(), api()]);
}

/** Waits until `live` has applied the log up to its head, then checks its counts against its rows and the table. */
async function expectExact(server: TestServer, live: LiveOrders, counted: { counts: OrderCounts | null }) {
  const head = await headOf(server);
  await vi.waitFor(() => expect(counted.counts?.lastEventId).toBe(head), { timeout: 20_000, interval: 20 });
  expect(live.counts).toEqual(counted.counts);
  expect(counted.counts!.counts).toEqual(await tableCounts(server));
  return counted.counts!;
}

describe('the client library keeps counts beside its copy', () => {
  test('equal to its rows and the table after concurrent API and SQL writes, across dropped connections', async ({ server }) => {
    await burst(server, 5);
    const live = createLiveOrders({ url: server.url, transport: 'websocket', WebSocket: NodeWebSocket, retryDelayMs: () => 50 });
    const counted: { counts: OrderCounts | null } = { counts: null };
    live.on('counts', (c) => (counted.counts = c));
    try {
      await live.ready;
      const writing = burst(server, 12);
      // Cut every WebSocket twice while the writes go on: it resumes from its position.
      for (let i = 0; i < 2; i++) {
        await vi.waitFor(() => expect(live.state).toBe('live'), { timeout: 10_000, interval: 10 });
        server.drills.dropWebSockets();
      }
      await writing;
      const counts = await expectExact(server, live, counted);
      expect(live.lastEventId).toBe(counts.lastEventId);
      expect(counts.counts).toEqual(countsOf(live.orders.values()));
      expect(counts.total).toBe(live.orders.size);
    } finally {
      await live.close();
    }
  });

  test('with a status filter (a second, unfiltered stream) and after a resync, still exact', async ({ server }) => {
    // Between the clients and the server: to keep them away while the log is pruned past them.
    const gate = await TcpGate.start(server.url);
    const options = { url: gate.url, transport: 'websocket' as const, WebSocket: NodeWebSocket, retryDelayMs: () => 50 };
    const plain = createLiveOrders(options);
    const filtered = createLiveOrders({ ...options, filter: { status: 'shipped' }, counts: true });
    const counted = { plain: { counts: null as OrderCounts | null }, filtered: { counts: null as OrderCounts | null } };
    plain.on('counts', (c) => (counted.plain.counts = c));
    filtered.on('counts', (c) => (counted.filtered.counts = c));
    const resyncs: ResyncNotice[] = [];
    plain.on('resynced', (n) => resyncs.push(n));
    const { sql, db } = createDatabase(server.app.databaseUrl);
    try {
      await Promise.all([plain.ready, filtered.ready]);
      await burst(server, 4);
      await expectExact(server, plain, counted.plain);
      await expectExact(server, filtered, counted.filtered);
      expect(filtered.counts!.total).toBeGreaterThan(filtered.orders.size);

      // Away while changes go on and the log is pruned past them: back, they must resync.
      gate.shut();
      await burst(server, 3);
      await server.sql`update order_events set at = at - interval '2 hours'`;
      await pruneEventBatch(db, 3_600_000, 100_000);
      gate.open();
      await vi.waitFor(() => expect(resyncs.length).toBeGreaterThan(0), { timeout: 20_000, interval: 20 });
      await burst(server, 2);
      await expectExact(server, plain, counted.plain);
      await expectExact(server, filtered, counted.filtered);
      expect(plain.counts!.counts).toEqual(countsOf(plain.orders.values()));
    } finally {
      await Promise.all([plain.close(), filtered.close()]);
      await sql.end();
      await gate.close();
    }
  });
});
