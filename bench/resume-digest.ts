/**
 * What the resume id's digest costs where it is computed: every read of the log that hands
 * events out (the listener's, a replay's). `npx tsx bench/resume-digest.ts [--events N]`
 * starts its own embedded PostgreSQL, writes N events (default 200,000), then, in turns,
 * reads the whole log in pages of 1,000 the way a replaying subscriber does (with digests),
 * and times the digest expression alone against the event JSON alone over every row.
 * Medians of 5 rounds, interleaved, so a busy machine slows both sides alike.
 */
import { rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import { createDatabase } from '../server/db/client.ts';
import { eventDigest } from '../server/db/event-digest.ts';
import { readEventJsonAfter } from '../server/db/events.ts';
import { migrateDatabase } from '../server/db/migrate.ts';
import { orderEvents } from '../server/db/schema.ts';
import { killCluster, startBenchDatabase } from './database.ts';

const { values } = parseArgs({ options: { events: { type: 'string', default: '200000' } } });
const EVENTS = Number(values.events);
const ROUNDS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

let dir = '';
const database = await startBenchDatabase((d) => (dir = d));
try {
  const url = await database.create('digest');
  await migrateDatabase(url);
  const raw = postgres(url, { max: 1, onnotice: () => {} });
  for (let made = 0; made < EVENTS; made += 10_000) {
    await raw`insert into orders (customer_name, product_name) select 'c' || i, 'p' from generate_series(1, ${Math.min(10_000, EVENTS - made)}) i`;
  }
  const { db, sql: pool } = createDatabase(url);
  const dialect = new PgDialect();
  const timeQuery = async (expression: ReturnType<typeof sql>) => {
    const q = dialect.sqlToQuery(sql`select count(${expression}) from ${orderEvents}`);
    const started = performance.now();
    await raw.unsafe(q.sql, q.params as never[]);
    return performance.now() - started;
  };
  const json = sql`${orderEvents.order}::text || ${orderEvents.actor} || ${orderEvents.type}::text`;
  const replay: number[] = [];
  const withDigest: number[] = [];
  const withoutDigest: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    for (let after = '0'; ; ) {
      const page = await readEventJsonAfter(db, after, 1000);
      if (page.length === 0) break;
      after = page.at(-1)!.resumeId;
    }
    replay.push(performance.now() - started);
    withoutDigest.push(await timeQuery(json));
    withDigest.push(await timeQuery(sql`${json} || ${eventDigest}`));
  }
  const perRowUs = ((median(withDigest) - median(withoutDigest)) * 1000) / EVENTS;
  console.log(`events                         ${EVENTS} (PostgreSQL ${database.version})`);
  console.log(`replay, pages of 1,000          ${Math.round(median(replay))} ms  (${Math.round(EVENTS / (median(replay) / 1000))} events/s, digests and anchor checks included)`);
  console.log(`scan: stored fields only        ${Math.round(median(withoutDigest))} ms`);
  console.log(`scan: fields and digest         ${Math.round(median(withDigest))} ms  (digest ≈ ${perRowUs.toFixed(2)} µs per event)`);
  await raw.end();
  await pool.end();
} finally {
  await database.stop().catch(() => killCluster(dir));
  await rm(dir, { recursive: true, force: true });
}
