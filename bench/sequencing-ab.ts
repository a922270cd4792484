/**
 * Sequenced appends, A/B (not part of `npm run bench`): single-row autocommit inserts at 16
 * connections into a copy of `orders` with no trigger and into `orders` in sequenced ordering,
 * for two builds of the server side by side, each positioning the events of its own database
 * in one embedded cluster; phases alternate (plain, sequenced, per build, per round), so the
 * builds see the same machine. Per phase: inserts/s and their ratio, database and server CPU
 * per insert (the database's beyond the plain insert's), and the sequencer's looks, batches
 * and events (pg_stat_user_functions, pg_stat_user_tables).
 *
 *   npm run build:server && cp -r dist .bench/distA   # one build; change, then the other
 *   SERVERS=.bench/distA,.bench/distB npx tsx bench/sequencing-ab.ts [rounds=2] [seconds=6]
 *
 * BENCHMARKS.md ("Sequenced appends") has what it measured.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { startChild, type BenchChild } from './child.ts';
import { cleanupAll, onCleanup } from './cleanup.ts';
import { postmasterPid } from './database.ts';
import { freePort, REPO_ROOT, stopChild } from './server-process.ts';
import { measure, type MeasureContext } from './scenarios/writes.ts';
import { startEmbeddedPostgres } from '../server/db/embedded.ts';
import { createLogger } from '../server/logger.ts';

const rounds = Number(process.argv[2] ?? 2);
const seconds = Number(process.argv[3] ?? 6);
const CONNECTIONS = 16;
const CLIENT_PROCESSES = 4;
const builds = (process.env.SERVERS ?? '').split(',').filter(Boolean);
if (builds.length === 0) throw new Error('SERVERS: one or more copies of dist/, comma-separated');

const dir = await mkdtemp(path.join(tmpdir(), 'live-orders-ab-'));
await chmod(dir, 0o755);
const pg = await startEmbeddedPostgres(dir, createLogger('warn'), ['-c', 'max_connections=200', '-c', 'track_functions=all']);
const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
onCleanup('database', async () => {
  await admin.end({ timeout: 1 });
  await pg.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The server of one build, in sequenced ordering, on `url`, as bench/server-process.ts runs it. */
async function startBuild(build: string, url: string): Promise<number> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(build, 'server', 'main.js')], {
    cwd: REPO_ROOT,
    env: { ...process.env, WRITE_RATE_LIMIT: '0', DATABASE_URL: url, EVENT_ORDERING: 'sequenced', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  onCleanup(`server ${build}`, () => stopChild(child, exited));
  const deadline = performance.now() + 60_000;
  while (!(await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false))) {
    if (performance.now() > deadline || child.exitCode !== null) throw new Error(`${build}: server not healthy`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return child.pid!;
}

/** The sequencer's work so far: calls of order_events_sequence(), batches (head updates), events. */
async function sequencerCounts(sql: postgres.Sql) {
  await sql`select pg_stat_clear_snapshot()`;
  const [row] = await sql<{ looks: number; batches: number; events: number }[]>`
    select (select coalesce(sum(calls), 0) from pg_stat_user_functions where funcname = 'order_events_sequence')::int as looks,
           (select n_tup_upd from pg_stat_user_tables where relname = 'order_events_head')::int as batches,
           (select n_tup_ins from pg_stat_user_tables where relname = 'order_events')::int as events`;
  return row!;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

try {
  const sides = [];
  for (const [i, build] of builds.entries()) {
    await admin.unsafe(`create database ab${i}`);
    const u = new URL(pg.url);
    u.pathname = `/ab${i}`;
    const url = u.toString();
    const pid = await startBuild(build, url);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    await sql.unsafe('create table bench_orders_plain (like orders including all)');
    sides.push({ build, url, pid, sql, plain: [] as number[], sequenced: [] as number[], dbUs: [] as number[], serverUs: [] as number[], looks: 0, batches: 0, events: 0 });
  }
  const clients: BenchChild[] = Array.from({ length: CLIENT_PROCESSES }, () => startChild('./writes-client.ts'));
  const ctx: MeasureContext = {
    database: { postmasterPid: postmasterPid(dir) },
    sizes: { writeSeconds: seconds },
    log: () => {},
  };
  const perInsertUs = (cores: number, perSecond: number) => (cores / perSecond) * 1e6;
  for (let r = 0; r < rounds; r++) {
    for (const s of sides) {
      const inserts = (table: string) => measure(ctx, clients, table, { kind: 'sql-insert', databaseUrl: s.url, table }, CONNECTIONS / CLIENT_PROCESSES, s.pid);
      const plain = await inserts('bench_orders_plain');
      const before = await sequencerCounts(s.sql);
      const sequenced = await inserts('orders');
      await new Promise((resolve) => setTimeout(resolve, 500)); // the last batches
      const after = await sequencerCounts(s.sql);
      s.plain.push(plain.ordersPerSecond);
      s.sequenced.push(sequenced.ordersPerSecond);
      s.dbUs.push(perInsertUs(sequenced.usage.databaseCpu, sequenced.ordersPerSecond) - perInsertUs(plain.usage.databaseCpu, plain.ordersPerSecond));
      s.serverUs.push(perInsertUs(sequenced.usage.serverCpu, sequenced.ordersPerSecond));
      const looks = after.looks - before.looks;
      const batches = after.batches - before.batches;
      const events = after.events - before.events;
      s.looks += looks;
      s.batches += batches;
      s.events += events;
      console.log(
        `${s.build} round ${r + 1}: no trigger ${Math.round(plain.ordersPerSecond)}/s, sequenced ${Math.round(sequenced.ordersPerSecond)}/s = ${(sequenced.ordersPerSecond / plain.ordersPerSecond).toFixed(2)}x;` +
          ` database CPU +${s.dbUs.at(-1)!.toFixed(0)} us/insert, server ${s.serverUs.at(-1)!.toFixed(0)} us/insert; ${looks} looks, ${batches} batches, ${events} events`,
      );
    }
  }
  for (const s of sides) {
    console.log(
      `${s.build}: sequenced / no trigger ${(sum(s.sequenced) / sum(s.plain)).toFixed(2)}x; database CPU +${(sum(s.dbUs) / rounds).toFixed(0)} us/insert; server ${(sum(s.serverUs) / rounds).toFixed(0)} us/insert;` +
        ` ${(s.events / s.batches).toFixed(1)} events and ${(s.looks / s.batches).toFixed(2)} looks per batch`,
    );
  }
  await Promise.all(
    clients.map(async (c) => {
      await c.call('close').catch(() => {});
      await c.stop();
    }),
  );
  for (const s of sides) await s.sql.end();
} finally {
  await cleanupAll();
}
