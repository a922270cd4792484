/**
 * The glance queries at size: a shop of 100,000 orders and 1,000,000 events in the log (after
 * a pruned first round of 100,000 creates, kept in the log's base), built in SQL
 * (bench/glance-data.ts), then each query over HTTP to the production build, one call at a
 * time: `orders.counts` now and at three depths, a page of `orders.list({ asOf })` at three
 * depths (100 and 1,000 orders, and filtered by status), the flow, `events.positionAt`.
 * Targets (issue 23): counts under 50 ms, a page of asOf under 500 ms. Then what the one new
 * index on the log (order_events_at_brin) costs an insert.
 */
import { createTRPCClient, httpLink } from '@trpc/client';
import postgres from 'postgres';
import type { AppRouter } from '../../server/routers/app.ts';
import { migrateDatabase } from '../../server/db/migrate.ts';
import { buildGlanceData } from '../glance-data.ts';
import { startServer } from '../server-process.ts';
import type { ScenarioContext } from './context.ts';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

export async function runGlance(ctx: ScenarioContext): Promise<void> {
  const { orders, rounds, calls } = ctx.sizes.glance;
  const url = await ctx.database.create('glance');
  await migrateDatabase(url);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  ctx.log(`glance: building ${orders} orders, ${orders * (rounds + 1)} events (the first ${orders} pruned) in SQL`);
  const t0 = performance.now();
  const data = await buildGlanceData(sql, orders, rounds);
  ctx.log(`glance: built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const server = await startServer({ DATABASE_URL: url });
  try {
    // The server stores the log's blocks of count moves in the background from 5 s after its
    // start (server/events/count-block-filler.ts): measured as a server that has run a while.
    const blocks = Math.floor(data.last / 10_000) - Math.ceil(data.floor / 10_000);
    const filling = performance.now();
    for (;;) {
      const [row] = await sql<[{ n: number }]>`select count(*)::int as n from order_count_blocks`;
      if (row.n >= blocks) break;
      if (performance.now() - filling > 120_000) throw new Error(`only ${row.n} of ${blocks} count blocks stored after 120 s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const fillSeconds = (performance.now() - filling) / 1000;
    ctx.log(`glance: the server stored ${blocks} count blocks ${fillSeconds.toFixed(1)} s after it was ready`);
    ctx.rows.push({ scenario: 'glance', metric: `${blocks} count blocks stored in the background, after ready`, unit: 's', ours: fillSeconds });
    const api = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${server.url}/trpc` })] });

    const timings: Record<string, { p50: number; p99: number; calls: number; first?: number }> = {};
    const measure = async (metric: string, call: () => Promise<unknown>, target?: { ms: number; label: string }) => {
      const first = performance.now();
      await call();
      const firstMs = performance.now() - first;
      const times: number[] = [];
      for (let i = 0; i < calls; i++) {
        const t = performance.now();
        await call();
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      const p50 = percentile(times, 50);
      const p99 = percentile(times, 99);
      timings[metric] = { p50, p99, calls, first: firstMs };
      ctx.log(`glance: ${metric}: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (first call ${firstMs.toFixed(1)} ms)`);
      ctx.rows.push({
        scenario: 'glance',
        metric: `${metric}, p50 / p99 of ${calls}`,
        unit: 'ms',
        ours: p50,
        note: `p99 ${p99.toFixed(1)} ms; first call ${firstMs.toFixed(1)} ms`,
        ...(target ? { target: target.label, pass: p99 < target.ms } : {}),
      });
    };

    const depths = {
      recent: String(data.last - 1_000),
      middle: String(data.floor + Math.floor(data.events / 2)),
      oldest: String(data.floor),
    };
    const counts = { ms: 50, label: '< 50 ms' };
    const page = { ms: 500, label: '< 500 ms' };
    await measure('orders.counts', () => api.orders.counts.query(), counts);
    // The first call at each depth stores the blocks of count moves it needs (its "first call").
    for (const [depth, asOf] of Object.entries(depths)) await measure(`orders.counts asOf ${depth} (${asOf})`, () => api.orders.counts.query({ asOf }));
    await measure('orders.list, 100 (now)', () => api.orders.list.query({ limit: 100 }));
    for (const [depth, asOf] of Object.entries(depths)) {
      await measure(`orders.list asOf ${depth}, 100`, () => api.orders.list.query({ asOf, limit: 100 }), page);
      await measure(`orders.list asOf ${depth}, 1000`, () => api.orders.list.query({ asOf, limit: 1000 }), page);
      await measure(`orders.list asOf ${depth}, 100 shipped`, () => api.orders.list.query({ asOf, limit: 100, status: 'shipped' }), page);
    }
    await measure('orders.list asOf middle, 100, cursor at the last order', () =>
      api.orders.list.query({ asOf: depths.middle, limit: 100, cursor: String(orders - 150) }),
    );
    await measure('orders.flow minute (last hour)', () => api.orders.flow.query({ bucket: 'minute' }));
    await measure('orders.flow hour (last day)', () => api.orders.flow.query({ bucket: 'hour' }));
    const fiveDaysAgo = new Date(Date.now() - 5 * 86_400_000).toISOString();
    await measure('events.positionAt (5 days ago)', () => api.events.positionAt.query({ at: fiveDaysAgo }));

    const writeCost = await measureBrinWriteCost(sql, Math.min(200_000, data.events));
    ctx.log(`glance: ${writeCost.rows} events inserted: ${writeCost.withMs.toFixed(0)} ms with the BRIN index on at, ${writeCost.withoutMs.toFixed(0)} ms without (median of 5)`);
    ctx.rows.push({
      scenario: 'glance',
      metric: `insert ${writeCost.rows} events, with / without order_events_at_brin`,
      unit: 'ms',
      ours: writeCost.withMs,
      baseline: writeCost.withoutMs,
    });
    ctx.details.glance = { data, depths, timings, brinWriteCost: writeCost, countBlocksFilledSeconds: fillSeconds };
  } finally {
    await server.stop();
    await sql.end();
  }
}

/**
 * The log's one new index, priced: the same rows inserted into two copies of order_events,
 * with every index of the log, and with all but the BRIN. Median of five rounds each, taken
 * alternately (and each first in turn) so that the shared machine's load falls on both alike.
 */
async function measureBrinWriteCost(sql: postgres.Sql, rows: number) {
  await sql`create table bench_with_brin (like order_events including all)`;
  await sql`create table bench_without_brin (like order_events including all)`;
  const [brin] = await sql<[{ name: string }]>`
    select indexname as name from pg_indexes where tablename = 'bench_without_brin' and indexdef like '%USING brin%'`;
  await sql`drop index ${sql(brin.name)}`;
  const times = { with: [] as number[], without: [] as number[] };
  const both = [['with', 'bench_with_brin'], ['without', 'bench_without_brin']] as const;
  for (let round = 0; round < 5; round++) {
    // Each first in turn: the one that goes second reads the source from a warmer cache.
    for (const [key, table] of round % 2 === 0 ? both : [...both].reverse()) {
      await sql`truncate ${sql(table)}`;
      const t = performance.now();
      await sql`insert into ${sql(table)} select * from order_events order by id limit ${rows}`;
      times[key].push(performance.now() - t);
    }
  }
  await sql`drop table bench_with_brin, bench_without_brin`;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[2]!;
  return { rows, withMs: median(times.with), withoutMs: median(times.without) };
}
