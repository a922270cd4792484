import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startApp, type App } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { createDatabase } from '../server/db/client.ts';
import { migrateDatabase } from '../server/db/migrate.ts';
import { createLogger } from '../server/logger.ts';
import { startPgBouncer, type PgBouncer } from './support/pgbouncer.ts';
import { createTestDatabase } from './support/server.ts';

// What goes wrong through a transaction-mode pooler, and that the server's pool avoids it.
// Seen through PgBouncer 1.18 with postgres.js's default (prepare: true): of 50 concurrent
// transactions some failed and some were reported committed but never were.

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let pooler: PgBouncer;
let direct: postgres.Sql;

beforeAll(async () => {
  database = await createTestDatabase();
  await migrateDatabase(database.url);
  pooler = await startPgBouncer(database.url);
  direct = postgres(database.url, { max: 2, onnotice: () => {} });
});

afterAll(async () => {
  await direct?.end();
  await pooler?.stop();
  await database?.drop();
});

type Outcome = { reported: string[]; failed: number; neverCommitted: string[] };

/**
 * Rounds of 50 concurrent transactions, each as the server writes (a transaction-scoped
 * setting, then an insert with parameters); a transaction's reported id must be in the table.
 */
async function concurrentTransactions(sql: postgres.Sql, tag: string, rounds = 3, concurrency = 50): Promise<Outcome> {
  const reported: string[] = [];
  let failed = 0;
  for (let round = 0; round < rounds; round++) {
    const results = await Promise.allSettled(
      Array.from({ length: concurrency }, (_, i) =>
        sql.begin(async (tx) => {
          await tx`select set_config('live_orders.actor', ${`${tag}-${round}-${i}`}, true)`;
          const [row] = await tx`insert into orders (customer_name, product_name) values (${tag}, ${`${round}-${i}`}) returning id`;
          if (!row) throw new Error('insert returned no row');
          return String(row.id);
        }),
      ),
    );
    for (const r of results) {
      if (r.status === 'fulfilled') reported.push(r.value);
      else failed++;
    }
  }
  const committed = new Set(
    (await direct`select id::text from orders where id = any(${reported}::bigint[])`).map((r) => r.id as string),
  );
  return { reported, failed, neverCommitted: reported.filter((id) => !committed.has(id)) };
}

describe('through PgBouncer in transaction mode', () => {
  test("postgres.js's default prepared statements break there (the failure this guards against is real)", async () => {
    const sql = postgres(pooler.via(database.url), { max: 50, onnotice: () => {} });
    try {
      const outcome = await concurrentTransactions(sql, 'prepared');
      // Failed, or reported committed and never committed: either way not what the caller was told.
      expect(outcome.failed + outcome.neverCommitted.length).toBeGreaterThan(0);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  test("the server's pool for a pooler: all 150 transactions commit, and each reported id is there", async () => {
    const { sql } = createDatabase(pooler.via(database.url), { pooled: true });
    try {
      const outcome = await concurrentTransactions(sql, 'unprepared');
      expect(outcome.failed).toBe(0);
      expect(outcome.neverCommitted).toEqual([]);
      expect(new Set(outcome.reported).size).toBe(150);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  describe('a server with DATABASE_URL at the pooler and DIRECT_DATABASE_URL direct', () => {
    let app: App;
    beforeAll(async () => {
      const config = loadConfig({ DATABASE_URL: pooler.via(database.url), DIRECT_DATABASE_URL: database.url, PORT: '0' });
      app = await startApp(config, createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));
    });
    afterAll(async () => {
      await app?.close();
    });

    test('concurrent idempotent creates return only committed orders, one per key', async () => {
      const keys = Array.from({ length: 10 }, (_, k) => `pooled-key-${k}`);
      const create = (key: string) =>
        fetch(`${app.url}/trpc/orders.create`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ customerName: 'Pooled', productName: key, idempotencyKey: key }),
        }).then(async (res) => ({ status: res.status, body: (await res.json()) as { result?: { data: { id: string } } } }));
      // Five concurrent retries of each key, all at once: 50 transactions.
      const replies = await Promise.all(keys.flatMap((key) => Array.from({ length: 5 }, () => create(key).then((r) => ({ key, ...r })))));

      expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
      const idsByKey = new Map<string, Set<string>>();
      for (const r of replies) idsByKey.set(r.key, (idsByKey.get(r.key) ?? new Set()).add(r.body.result!.data.id));
      for (const key of keys) expect(idsByKey.get(key)?.size, key).toBe(1);

      const ids = keys.map((key) => [...idsByKey.get(key)!][0]!);
      const rows = await direct`select id::text, product_name from orders where id = any(${ids}::bigint[]) order by id`;
      expect(rows.map((r) => r.product_name).sort()).toEqual([...keys].sort());
      const events = await direct`select count(*)::int as n from order_events where order_id = any(${ids}::bigint[])`;
      expect(events[0]!.n).toBe(keys.length);
    });
  });
});
