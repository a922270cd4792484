/**
 * Memory: what an idle subscribed connection costs the server, and what a subscriber that
 * stops reading makes it hold while events go by.
 */
import postgres from 'postgres';
import { rssBytes, sampleProcess } from '../proc-stats.ts';
import { startServer } from '../server-process.ts';
import { currentPosition } from '../sql-writer.ts';
import { startChild } from '../child.ts';
import { SubscriberGroup } from '../subscriber-group.ts';
import type { ScenarioContext } from './context.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Median of 10 samples over a second: one sample can land mid-GC. */
async function steadyRss(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    samples.push(rssBytes(pid));
    await sleep(100);
  }
  samples.sort((a, b) => a - b);
  return samples[5]!;
}

export async function runMemory(ctx: ScenarioContext): Promise<void> {
  const databaseUrl = await ctx.database.create('bench_memory');
  const server = await startServer({ DATABASE_URL: databaseUrl });
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await idleConnections(ctx, server.pid, server.wsUrl);
    await pausedReader(ctx, server.pid, server.wsUrl, sql);
  } finally {
    await sql.end({ timeout: 1 });
    await server.stop();
  }
}

/**
 * RSS per idle subscriber, ours beside a bare `ws` server's (connected, no subscription), on a
 * second batch of connections. The first batch also pays what a server pays once, whatever
 * the count: V8 grows the heap's young generation (here from 16 to 32 MB) under the burst of
 * allocations, and compiles the code the connections run. Both batches are reported; the
 * second is what one more subscriber costs.
 */
async function idleConnections(ctx: ScenarioContext, pid: number, url: string): Promise<void> {
  const n = ctx.sizes.idleSubscribers;
  ctx.log(`memory: ${n} idle subscribers, then ${n} more`);
  const ours = await idleRss(ctx, pid, url, 'trpc');
  ctx.log(`memory: ${n} idle connections, then ${n} more, on the bare ws baseline`);
  const server = startChild('./baseline-ws-server.ts');
  let baseline: IdleRss;
  try {
    const { url: baselineUrl } = await server.call<{ url: string }>('listen');
    baseline = await idleRss(ctx, server.pid, baselineUrl, 'raw');
  } finally {
    await server.call('close').catch(() => {});
    await server.stop();
  }
  ctx.details.idleMemory = { subscribers: n, ours, baseline };
  ctx.log(`memory: ${ours.nextKb.toFixed(1)} KB per idle subscriber (first ${n}: ${ours.firstKb.toFixed(1)} KB)`);
  const count = n.toLocaleString('en-US');
  const scenario = `memory, ${count} idle`;
  ctx.rows.push({
    scenario,
    metric: `server RSS per idle subscriber, ${count} more`,
    unit: 'KB',
    ours: ours.nextKb,
    baseline: baseline.nextKb,
    target: '<= 20 KB',
    pass: ours.nextKb <= 20,
  });
  ctx.rows.push({
    scenario,
    metric: `the same, first ${count} (with one-time heap growth)`,
    unit: 'KB',
    ours: ours.firstKb,
    baseline: baseline.firstKb,
  });
}

type IdleRss = { firstKb: number; nextKb: number; rssMb: [number, number, number] };

/** RSS growth per connection of `pid`: for a first batch of idle subscribers, then a second. */
async function idleRss(ctx: ScenarioContext, pid: number, url: string, protocol: 'trpc' | 'raw'): Promise<IdleRss> {
  const n = ctx.sizes.idleSubscribers;
  const processes = Math.max(ctx.sizes.subscriberProcesses, Math.ceil(n / ctx.socketsPerProcess));
  const batches = [new SubscriberGroup(n, processes), new SubscriberGroup(n, processes)];
  try {
    await sleep(ctx.sizes.settleMs);
    const rss = [await steadyRss(pid)];
    for (const batch of batches) {
      await batch.connect({ url, lastEventId: null, protocol });
      await sleep(ctx.sizes.settleMs);
      rss.push(await steadyRss(pid));
    }
    const [before, first, second] = rss as [number, number, number];
    return { firstKb: (first - before) / n / 1024, nextKb: (second - first) / n / 1024, rssMb: [before / 2 ** 20, first / 2 ** 20, second / 2 ** 20] };
  } finally {
    await Promise.all(batches.map((b) => b.close()));
  }
}

async function pausedReader(ctx: ScenarioContext, pid: number, url: string, sql: postgres.Sql): Promise<void> {
  const events = ctx.sizes.pausedReaderEvents;
  ctx.log(`memory: a subscriber that stops reading while ${events.toLocaleString('en-US')} events go by`);
  await sleep(ctx.sizes.settleMs);
  const group = new SubscriberGroup(1, 1);
  try {
    await group.connect({ url, lastEventId: await currentPosition(sql), protocol: 'trpc' });
    await group.pause();
    const sampler = sampleProcess(pid, ctx.database.postmasterPid);
    // Commits of 1,000 rows: the events go by in a few seconds, well inside the 30 s after
    // which the server's keep-alive would ping the silent client (and drop it 5 s later).
    for (let done = 0; done < events; done += 1_000) {
      const n = Math.min(1_000, events - done);
      await sql`insert into orders (customer_name, product_name) select 'Bench', 'Unread ' || g from generate_series(1, ${n}::int) g`;
    }
    // Long enough for the listener and the subscription to push everything they will.
    await sleep(ctx.sizes.settleMs + 1_000);
    const usage = sampler.stop();
    const { openSockets } = await group.status();
    // Then it reads again: does it get everything, in order?
    await group.resume();
    const after = await group.collect(events, null, ctx.sizes.phaseDeadlineMs);
    const growthMb = usage.rssMaxMb - usage.rssStartMb;
    ctx.details.pausedReader = { events, usage, rssSamples: sampler.samples, stillOpen: openSockets === 1, afterResume: after };
    ctx.log(
      `memory: paused reader: RSS +${growthMb.toFixed(1)} MB, socket ${openSockets === 1 ? 'still open' : 'closed by server'}, ` +
        `${after.deliveries} of ${events} delivered after resuming`,
    );
    const scenario = `memory, paused reader`;
    ctx.rows.push({
      scenario,
      metric: `server RSS growth, ${events.toLocaleString('en-US')} events unread`,
      unit: 'MB',
      ours: growthMb,
      note: openSockets === 1 ? 'socket kept open' : 'socket closed by server',
    });
    ctx.rows.push({ scenario, metric: 'delivered after resuming', unit: '%', ours: (100 * after.deliveries) / events });
  } finally {
    await group.close();
  }
}
