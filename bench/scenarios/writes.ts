/**
 * Writes: `orders.create` through httpBatchLink from several client processes, and bulk
 * `orders.createMany`; baselines insert the same rows with postgres.js at the same
 * concurrency into `orders` (trigger and all) and into a copy of it with no triggers.
 */
import postgres from 'postgres';
import { startChild, type BenchChild } from '../child.ts';
import { now } from '../clock.ts';
import { emptyHistogram, merge, summarize, unpack, type LatencySummary } from '../histogram.ts';
import { sampleProcess, type ProcessUsage } from '../proc-stats.ts';
import { startServer } from '../server-process.ts';
import type { PrepareArgs, RunArgs, RunResult, WriteMode } from '../writes-client.ts';
import type { ScenarioContext } from './context.ts';

export type WriteResult = { ordersPerSecond: number; orders: number; seconds: number; latency: LatencySummary; usage: ProcessUsage; errors: string[] };

const PLAIN_TABLE = 'bench_orders_plain';

export async function runWrites(ctx: ScenarioContext): Promise<void> {
  const { sizes } = ctx;
  const databaseUrl = await ctx.database.create('bench_writes');
  const server = await startServer({ DATABASE_URL: databaseUrl });
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  // Started once and reused by every mode: a process start costs more than a short window.
  const clients: BenchChild[] = Array.from({ length: sizes.writeProcesses }, () => startChild('./writes-client.ts'));
  try {
    // Columns, defaults, identity, checks and indexes of `orders`; LIKE never copies triggers,
    // so the difference between the two inserts is what the triggers cost.
    await sql.unsafe(`create table ${PLAIN_TABLE} (like orders including all)`);

    const commitMs = await singleCommitMs(sql);
    ctx.log(`writes: one commit on one connection (no trigger): ${commitMs.toFixed(2)} ms median`);

    const run = (label: string, mode: WriteMode, concurrency: number, calls?: number) =>
      measure(ctx, clients, label, mode, concurrency, server.pid, calls).then((result) => {
        // Failed calls with the server gone are a crash to report, not a slow figure.
        if (result.errors.length > 0) ctx.log(`  server: ${server.describe()}`);
        return result;
      });
    const c = sizes.writeConcurrency;
    const many = sizes.createManyCallsPerProcess;
    const results = {
      create: await run('orders.create', { kind: 'trpc-create', url: server.url }, c),
      insertWithTrigger: await run('insert, trigger', { kind: 'sql-insert', databaseUrl, table: 'orders' }, c),
      insertPlain: await run('insert, no trigger', { kind: 'sql-insert', databaseUrl, table: PLAIN_TABLE }, c),
      createMany: await run('orders.createMany', { kind: 'trpc-create-many', url: server.url }, 1, many),
      insertManyWithTrigger: await run('insert 1,000, trigger', { kind: 'sql-insert-many', databaseUrl, table: 'orders' }, 1, many),
      insertManyPlain: await run('insert 1,000, no trigger', { kind: 'sql-insert-many', databaseUrl, table: PLAIN_TABLE }, 1, many),
    };
    ctx.details.writes = { singleCommitMs: commitMs, processes: sizes.writeProcesses, concurrencyPerProcess: c, ...results };

    const scenario = 'writes';
    const note = `${sizes.writeProcesses} procs x ${c} in flight`;
    ctx.rows.push({
      scenario,
      metric: 'orders.create',
      note,
      unit: '/s',
      ours: results.create.ordersPerSecond,
      baseline: results.insertWithTrigger.ordersPerSecond,
      target: '>= 70% of insert w/ trigger',
      pass: results.create.ordersPerSecond >= 0.7 * results.insertWithTrigger.ordersPerSecond,
    });
    ctx.rows.push({ scenario, metric: 'orders.create vs insert w/o trigger', unit: '/s', ours: results.create.ordersPerSecond, baseline: results.insertPlain.ordersPerSecond });
    ctx.rows.push({ scenario, metric: 'orders.create latency p50', unit: 'ms', ours: results.create.latency.p50, baseline: results.insertWithTrigger.latency.p50 });
    ctx.rows.push({ scenario, metric: 'orders.create latency p99', unit: 'ms', ours: results.create.latency.p99, baseline: results.insertWithTrigger.latency.p99 });
    ctx.rows.push({ scenario, metric: 'orders.create server CPU', unit: 'cores', ours: results.create.usage.serverCpu });
    ctx.rows.push({ scenario, metric: 'orders.create database CPU', unit: 'cores', ours: results.create.usage.databaseCpu, baseline: results.insertWithTrigger.usage.databaseCpu });
    ctx.rows.push({ scenario, metric: 'one commit, one connection, no trigger', note: 'disk flush', unit: 'ms', ours: commitMs });
    const manyNote = `${sizes.writeProcesses} procs x 1, 1,000/call`;
    ctx.rows.push({
      scenario,
      metric: 'orders.createMany',
      note: manyNote,
      unit: '/s',
      ours: results.createMany.ordersPerSecond,
      baseline: results.insertManyWithTrigger.ordersPerSecond,
      target: '>= 20,000/s',
      pass: results.createMany.ordersPerSecond >= 20_000,
    });
    ctx.rows.push({ scenario, metric: 'orders.createMany vs insert w/o trigger', unit: '/s', ours: results.createMany.ordersPerSecond, baseline: results.insertManyPlain.ordersPerSecond });
    ctx.rows.push({ scenario, metric: 'orders.createMany call p50', unit: 'ms', ours: results.createMany.latency.p50, baseline: results.insertManyWithTrigger.latency.p50 });
  } finally {
    await Promise.all(
      clients.map(async (c) => {
        await c.call('close').catch(() => {});
        await c.stop();
      }),
    );
    await sql.end({ timeout: 1 });
    await server.stop();
  }
}

/**
 * The median time of one autocommit insert on one idle connection: mostly the WAL flush.
 * Commits that append events take turns (see the trigger migration), so this bounds the
 * single-row write rate of any client; the table's reader should know it.
 */
async function singleCommitMs(sql: postgres.Sql, samples = 50): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = now();
    await sql`insert into ${sql(PLAIN_TABLE)} (customer_name, product_name) values ('Bench', 'Commit')`;
    times.push(now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(samples / 2)]!;
}

/** What `measure` reads of a scenario's context: scripts outside `npm run bench` build just this. */
export type MeasureContext = {
  database: Pick<ScenarioContext['database'], 'postmasterPid'>;
  sizes: Pick<ScenarioContext['sizes'], 'writeSeconds'>;
  log: ScenarioContext['log'];
};

export async function measure(
  ctx: MeasureContext,
  clients: BenchChild[],
  label: string,
  mode: WriteMode,
  concurrency: number,
  serverPid: number,
  calls?: number,
): Promise<WriteResult> {
  await Promise.all(clients.map((c) => c.call('prepare', { mode, concurrency } satisfies PrepareArgs)));
  // Everyone starts at one instant, a moment from now, so the windows coincide.
  const startAt = now() + 300;
  const sampler = sampleProcess(serverPid, ctx.database.postmasterPid);
  const args: RunArgs = { startAt, seconds: ctx.sizes.writeSeconds, ...(calls === undefined ? {} : { calls }) };
  const results = await Promise.all(clients.map((c) => c.call<RunResult>('run', args, 300_000)));
  const usage = sampler.stop();
  const latency = emptyHistogram();
  for (const r of results) merge(latency, unpack(r.latency));
  const orders = results.reduce((a, r) => a + r.orders, 0);
  const seconds = (Math.max(...results.map((r) => r.finishedAt)) - startAt) / 1000;
  const errors = results.flatMap((r) => r.errors);
  const result = { ordersPerSecond: orders / seconds, orders, seconds, latency: summarize(latency), usage, errors };
  ctx.log(`writes: ${label}: ${Math.round(result.ordersPerSecond).toLocaleString('en-US')} orders/s, p50 ${result.latency.p50.toFixed(2)} ms`);
  for (const e of errors) ctx.log(`  ${label}: ${e}`);
  return result;
}
