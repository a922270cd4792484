import postgres from 'postgres';
import { describe, expect, test, vi } from 'vitest';
import { createLiveOrders, type LiveOrders, type OrderEvent, type ResyncNotice, type Transport } from 'live-orders-client';
import { migrateDatabase } from '../server/db/migrate.ts';
import { startServerProcess, type ServerProcess } from './support/server-process.ts';
import { copyDatabase, createTestDatabase } from './support/server.ts';
import { tableRows } from './support/table-rows.ts';
import { NodeWebSocket } from './support/node-web-socket.ts';

const copyRows = (live: LiveOrders) => [...live.orders.values()].sort((a, b) => Number(a.id) - Number(b.id));
const head = async (sql: postgres.Sql) => (await sql<[{ head: string }]>`select coalesce(max(id), 0)::text as head from order_events`)[0].head;

/** A live client on a server process, recording what it tells. */
function watch(server: ServerProcess, transport: Transport) {
  const live = createLiveOrders({ url: server.url, transport, WebSocket: NodeWebSocket, retryDelayMs: () => 100 });
  const changes: OrderEvent[] = [];
  const resyncs: ResyncNotice[] = [];
  live.on('change', (e) => changes.push(e));
  live.on('resynced', (n) => resyncs.push(n));
  return { live, changes, resyncs };
}

describe.each<Transport>(['websocket', 'sse'])('the client library over %s, when the server cannot serve its position', (transport) => {
  test('events pruned (EVENT_RETENTION) while it was away: PRECONDITION_FAILED, it reloads the snapshot, says so, and goes on', async () => {
    const database = await createTestDatabase();
    await migrateDatabase(database.url);
    const sql = postgres(database.url, { max: 2, onnotice: () => {} });
    await sql`insert into orders (customer_name, product_name) select 'C' || i, 'P' from generate_series(1, 20) i`;
    let server = await startServerProcess({ DATABASE_URL: database.url });
    const { live, resyncs } = watch(server, transport);
    try {
      await live.ready;
      await sql`update orders set status = 'confirmed' where id <= 5`;
      const seenUpTo = await head(sql);
      await vi.waitFor(() => expect(live.lastEventId).toBe(seenUpTo), { timeout: 10_000, interval: 20 });

      // Away: the server is gone while changes go on. A node the client cannot reach (another
      // port) runs with EVENT_RETENTION=1s and prunes the log past the client's position.
      await server.kill('SIGKILL');
      await sql`delete from orders where id in (6, 7)`;
      await sql`update orders set status = 'shipped' where id <= 3`;
      await sql`insert into orders (customer_name, product_name) values ('late', 'comer')`;
      const missedUpTo = await head(sql);
      const pruner = await startServerProcess({ DATABASE_URL: database.url, EVENT_RETENTION: '1s', EVENT_PRUNE_INTERVAL: '100ms' });
      await vi.waitFor(
        async () => expect(BigInt((await sql<[{ through: string }]>`select through::text from order_events_pruned`)[0].through)).toBeGreaterThanOrEqual(BigInt(missedUpTo)),
        { timeout: 15_000, interval: 100 },
      );
      await pruner.kill('SIGTERM');
      server = await startServerProcess({ DATABASE_URL: database.url, PORT: String(server.port) });

      await vi.waitFor(() => expect(resyncs).toHaveLength(1), { timeout: 20_000, interval: 20 });
      expect(resyncs[0]!.reason).toMatch(/no longer in the log/);
      expect(copyRows(live)).toEqual(await tableRows(sql));

      // And it is live again from the new snapshot.
      await sql`update orders set status = 'delivered' where id = 1`;
      const now = await head(sql);
      await vi.waitFor(() => expect(live.lastEventId).toBe(now), { timeout: 10_000, interval: 20 });
      expect(copyRows(live)).toEqual(await tableRows(sql));
      expect(live.state).toBe('live');
    } finally {
      await live.close();
      await server.kill('SIGTERM');
      await sql.end();
      await database.drop();
    }
  });

  test('a position ahead of the log (the database restored from a backup): it resyncs to the restored table', async () => {
    const database = await createTestDatabase();
    await migrateDatabase(database.url);
    const setup = postgres(database.url, { max: 1, onnotice: () => {} });
    await setup`insert into orders (customer_name, product_name) select 'C' || i, 'P' from generate_series(1, 10) i`;
    await setup.end();
    // The backup: a copy of the database as it is now (no one is connected to it yet).
    const backup = await copyDatabase(database.url);
    const sql = postgres(database.url, { max: 2, onnotice: () => {} });
    const restored = postgres(backup.url, { max: 2, onnotice: () => {} });
    let server = await startServerProcess({ DATABASE_URL: database.url });
    const { live, resyncs } = watch(server, transport);
    try {
      await live.ready;
      await sql`update orders set status = 'shipped' where id <= 8`;
      await sql`insert into orders (customer_name, product_name) select 'D' || i, 'P' from generate_series(1, 5) i`;
      const seenUpTo = await head(sql);
      await vi.waitFor(() => expect(live.lastEventId).toBe(seenUpTo), { timeout: 10_000, interval: 20 });

      // The database is restored from the backup, whose log ends before the client's position.
      await server.kill('SIGKILL');
      server = await startServerProcess({ DATABASE_URL: backup.url, PORT: String(server.port) });
      await vi.waitFor(() => expect(resyncs).toHaveLength(1), { timeout: 20_000, interval: 20 });
      expect(resyncs[0]!.reason).toMatch(/ahead of the log/);
      expect(copyRows(live)).toEqual(await tableRows(restored));
      expect(live.orders.size).toBe(10);

      await restored`update orders set status = 'cancelled' where id = 2`;
      const now = await head(restored);
      await vi.waitFor(() => expect(live.lastEventId).toBe(now), { timeout: 10_000, interval: 20 });
      expect(copyRows(live)).toEqual(await tableRows(restored));
    } finally {
      await live.close();
      await server.kill('SIGTERM');
      await sql.end();
      await restored.end();
      await database.drop();
      await backup.drop();
    }
  });
});
