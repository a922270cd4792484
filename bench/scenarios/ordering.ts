/**
 * Ordering modes (issue 20): what EVENT_ORDERING=commit and =sequenced cost and give, in one
 * run, beside the baselines.
 *
 * - single-row commits/s at 1, 4 and 16 connections: a plain insert (a copy of `orders` with
 *   no trigger), then `orders` in commit ordering, then `orders` in sequenced ordering (a
 *   server in that mode positions the events meanwhile, as in production);
 * - `orders.create` with 8 calls in flight, and `orders.createMany`, in both modes, beside the
 *   seed's design (bench/seed-server.ts: a plain insert whose trigger NOTIFYs the row, behind a
 *   minimal HTTP handler) driven the same way;
 * - delivery latency at the fixed rate to 1,000 subscribers in both modes (fanout.ts's
 *   measurement; changes are committed from SQL, so sequenced ordering positions them at its
 *   next look, not on a kick from its own API: every 1 ms while events flow, as they do here).
 */
import postgres from 'postgres';
import { startChild, type BenchChild } from '../child.ts';
import { startServer } from '../server-process.ts';
import type { WriteMode } from '../writes-client.ts';
import type { ScenarioContext } from './context.ts';
import { check, measureOurs, type FanoutPlan } from './fanout.ts';
import { measure, type WriteResult } from './writes.ts';

const PLAIN_TABLE = 'bench_orders_plain';
const CONNECTIONS = [1, 4, 16];
const CREATE_CLIENTS = 8;
type Ordering = 'commit' | 'sequenced';
const ORDERINGS: Ordering[] = ['commit', 'sequenced'];

export async function runOrdering(ctx: ScenarioContext): Promise<void> {
  const { sizes } = ctx;
  const scenario = 'ordering';
  const databases = {
    commit: await ctx.database.create('bench_ordering_commit'),
    sequenced: await ctx.database.create('bench_ordering_sequenced'),
  };
  const servers = {
    commit: await startServer({ DATABASE_URL: databases.commit, EVENT_ORDERING: 'commit' }),
    sequenced: await startServer({ DATABASE_URL: databases.sequenced, EVENT_ORDERING: 'sequenced' }),
  };
  const seed = startChild('./seed-server.ts');
  // One client process per connection at the most; single-row loops on one process would
  // measure the client. Four processes, calls spread evenly.
  const clients: BenchChild[] = Array.from({ length: 4 }, () => startChild('./writes-client.ts'));
  const sql = postgres(databases.commit, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`create table ${PLAIN_TABLE} (like orders including all)`);
    const { url: seedUrl, pid: seedPid } = await seed.call<{ url: string; pid: number }>('listen', { databaseUrl: databases.commit });

    // `serverPid`: whose CPU to sample (the server that serves the calls).
    const run = async (label: string, mode: WriteMode, inFlight: number, calls?: number, serverPid = servers.commit.pid): Promise<WriteResult> => {
      const processes = Math.min(clients.length, inFlight);
      return measure(ctx, clients.slice(0, processes), label, mode, inFlight / processes, serverPid, calls);
    };

    const commits: Record<string, Record<number, WriteResult>> = { plain: {}, commit: {}, sequenced: {} };
    for (const n of CONNECTIONS) {
      commits.plain![n] = await run(`insert, no trigger, ${n} conn`, { kind: 'sql-insert', databaseUrl: databases.commit, table: PLAIN_TABLE }, n);
      for (const o of ORDERINGS) {
        commits[o]![n] = await run(`insert, ${o} ordering, ${n} conn`, { kind: 'sql-insert', databaseUrl: databases[o], table: 'orders' }, n);
      }
      const plain = commits.plain![n]!.ordersPerSecond;
      const sequenced = commits.sequenced![n]!.ordersPerSecond;
      ctx.rows.push({ scenario, metric: `single-row commits, ${n} conn`, note: 'commit ordering', unit: '/s', ours: commits.commit![n]!.ordersPerSecond, baseline: plain });
      ctx.rows.push({
        scenario,
        metric: `single-row commits, ${n} conn`,
        note: 'sequenced ordering',
        unit: '/s',
        ours: sequenced,
        baseline: plain,
        ...(n === 16 ? { target: '>= 0.7x no trigger', pass: sequenced >= 0.7 * plain } : {}),
      });
    }

    const seedCreate = await run('seed design: POST, insert + NOTIFY', { kind: 'http-post', url: seedUrl }, CREATE_CLIENTS, undefined, seedPid);
    const create: Partial<Record<Ordering, WriteResult>> = {};
    const createMany: Partial<Record<Ordering, WriteResult>> = {};
    for (const o of ORDERINGS) {
      create[o] = await run(`orders.create, ${o} ordering`, { kind: 'trpc-create', url: servers[o].url }, CREATE_CLIENTS, undefined, servers[o].pid);
      createMany[o] = await run(`orders.createMany, ${o} ordering`, { kind: 'trpc-create-many', url: servers[o].url }, 4, sizes.createManyCallsPerProcess, servers[o].pid);
    }
    const note = `${CREATE_CLIENTS} in flight`;
    ctx.rows.push({ scenario, metric: 'orders.create, commit ordering', note, unit: '/s', ours: create.commit!.ordersPerSecond, baseline: seedCreate.ordersPerSecond });
    ctx.rows.push({
      scenario,
      metric: 'orders.create, sequenced ordering',
      note: `${note}; base: commit ordering`,
      unit: '/s',
      ours: create.sequenced!.ordersPerSecond,
      baseline: create.commit!.ordersPerSecond,
      target: '>= 2x commit ordering',
      pass: create.sequenced!.ordersPerSecond >= 2 * create.commit!.ordersPerSecond,
    });
    ctx.rows.push({
      scenario,
      metric: 'orders.create, sequenced ordering',
      note: `${note}; base: the seed's design`,
      unit: '/s',
      ours: create.sequenced!.ordersPerSecond,
      baseline: seedCreate.ordersPerSecond,
      target: ">= the seed's design",
      pass: create.sequenced!.ordersPerSecond >= seedCreate.ordersPerSecond,
    });
    // Where a create's time goes: CPU per create of the process serving it and of PostgreSQL
    // (all of the cluster's backends: both modes' servers' sequencers and listeners included).
    // On this 2-core machine creates are CPU-bound, so these set the rates above.
    const perCreateUs = (r: WriteResult, cores: number) => (cores / r.ordersPerSecond) * 1e6;
    for (const o of ORDERINGS) {
      ctx.rows.push({ scenario, metric: `orders.create p50, ${o} ordering`, unit: 'ms', ours: create[o]!.latency.p50, baseline: seedCreate.latency.p50 });
      ctx.rows.push({
        scenario,
        metric: `orders.create server CPU per create, ${o} ordering`,
        note: "base: the seed's server",
        unit: 'us',
        ours: perCreateUs(create[o]!, create[o]!.usage.serverCpu),
        baseline: perCreateUs(seedCreate, seedCreate.usage.serverCpu),
      });
      ctx.rows.push({
        scenario,
        metric: `orders.create database CPU per create, ${o} ordering`,
        note: "base: the seed's design",
        unit: 'us',
        ours: perCreateUs(create[o]!, create[o]!.usage.databaseCpu),
        baseline: perCreateUs(seedCreate, seedCreate.usage.databaseCpu),
      });
    }
    ctx.rows.push({
      scenario,
      metric: 'orders.createMany',
      note: 'sequenced; base: commit ordering',
      unit: '/s',
      ours: createMany.sequenced!.ordersPerSecond,
      baseline: createMany.commit!.ordersPerSecond,
    });

    // Delivery latency, both modes, the same plan.
    const subscribers = ctx.smoke ? 20 : 1_000;
    const plan: FanoutPlan = {
      subscribers,
      processes: Math.max(sizes.subscriberProcesses, Math.ceil(subscribers / ctx.socketsPerProcess)),
      rate: sizes.fixedRate,
      warmupEvents: sizes.warmupEvents,
      rateEvents: sizes.fixedRate * sizes.fixedRateSeconds,
      floodEvents: 0,
    };
    const latency: Partial<Record<Ordering, Awaited<ReturnType<typeof measureOurs>>>> = {};
    for (const o of ORDERINGS) {
      ctx.log(`ordering: ${subscribers} subscribers at ${plan.rate}/s, ${o} ordering`);
      latency[o] = await measureOurs(ctx, plan, o);
      check(ctx, `${o} ordering, ${subscribers} subscribers`, latency[o]!.rate);
    }
    const rateNote = `${subscribers.toLocaleString('en-US')} subs, ${plan.rate}/s; base: commit`;
    const p50 = latency.sequenced!.rate.latency.p50;
    const commitP50 = latency.commit!.rate.latency.p50;
    ctx.rows.push({
      scenario,
      metric: 'delivery p50, sequenced',
      note: rateNote,
      unit: 'ms',
      ours: p50,
      baseline: commitP50,
      target: '<= commit + 5 ms',
      pass: p50 <= commitP50 + 5,
    });
    ctx.rows.push({ scenario, metric: 'delivery p99, sequenced', note: rateNote, unit: 'ms', ours: latency.sequenced!.rate.latency.p99, baseline: latency.commit!.rate.latency.p99 });

    ctx.details.ordering = { commits, seedCreate, create, createMany, latency };
  } finally {
    await Promise.all(
      clients.map(async (c) => {
        await c.call('close').catch(() => {});
        await c.stop();
      }),
    );
    await seed.call('close').catch(() => {});
    await seed.stop();
    await sql.end({ timeout: 1 });
    await Promise.all([servers.commit.stop(), servers.sequenced.stop()]);
  }
}
