import postgres from 'postgres';
import { describe, expect, inject } from 'vitest';
import { LISTENER_APPLICATION_NAME } from '../server/events/listener.ts';
import { test } from './support/server.ts';
import { expectStrictlyIncreasing, record } from './support/subscriber.ts';

/**
 * Terminates the listener's backend and waits (up to 5 s) until it is gone. Materialized, so
 * the planner cannot call pg_terminate_backend on rows before filtering them.
 */
function killListener(sql: postgres.Sql | postgres.TransactionSql) {
  return sql<{ pid: number }[]>`
    with listener as materialized (
      select pid from pg_stat_activity
      where application_name = ${LISTENER_APPLICATION_NAME} and datname = current_database()
    )
    select pid from listener where pg_terminate_backend(pid, 5000)`;
}

describe('the change listener', () => {
  test('loses nothing when its database connection is killed mid-stream, again and again', async ({ server }) => {
    const client = server.client();
    const { lastEventId: from } = await client.events.list.query({});
    const subscriber = record(server.client(), { lastEventId: from });

    // Connected to another database of the cluster: ALTER DATABASE cannot target its own.
    const admin = postgres(inject('adminDatabaseUrl'), { max: 1 });
    const kills: number[] = [];
    const total = 600;
    const writing = (async () => {
      for (let i = 0; i < total; i += 20) {
        await client.orders.createMany.mutate({
          orders: Array.from({ length: 20 }, (_, j) => ({ customerName: `kill ${i + j}`, productName: 'p' })),
        });
        if (i % 100 === 0) {
          // Kill the listener's backend from the database side, as an admin or a failover would.
          // (Materialized, so the planner cannot call pg_terminate_backend before filtering.)
          kills.push((await killListener(server.sql)).length);
        }
      }
      // The last changes commit while the listener certainly cannot reconnect (new
      // connections to the database are refused for a moment), and nothing follows them:
      // no later NOTIFY will wake it, only its catch-up read once it is back.
      const database = admin(new URL(server.app.databaseUrl).pathname.slice(1));
      await admin`alter database ${database} allow_connections false`;
      try {
        kills.push((await killListener(server.sql)).length);
        await server.sql`insert into orders (customer_name, product_name) values ('while', 'down'), ('also', 'down')`;
        expect(server.app.listener.state).not.toBe('listening');
      } finally {
        await admin`alter database ${database} allow_connections true`;
        await admin.end();
      }
    })();
    await writing;

    // With EVENT_ORDERING=sequenced the two SQL inserts' events get their positions once the
    // server's sequencer can connect again: wait for them, with a deadline.
    await expect.poll(async () => (await server.logAfter(from)).length, { timeout: 10_000 }).toBe(total + 2);
    const expected = await server.logAfter(from);
    expect(expected).toHaveLength(total + 2);
    await subscriber.waitForCount(total + 2);
    expect(subscriber.events.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    expectStrictlyIncreasing(subscriber.events);
    // Each kill found the listener connected (it had come back after the previous one).
    expect(kills.filter((n) => n === 1).length).toBeGreaterThanOrEqual(5);
    expect(kills.at(-1)).toBe(1);
    await expect.poll(() => server.app.listener.state, { timeout: 10_000 }).toBe('listening');
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
  });
});
