/**
 * Catch-up: one subscriber resumes N events behind. We time from sending the subscription to
 * the receipt of the last of them (then it is live again, which one more write proves), and
 * sample the server's RSS every 100 ms while it replays.
 */
import postgres from 'postgres';
import { sampleProcess } from '../proc-stats.ts';
import { startServer } from '../server-process.ts';
import { currentPosition, writeAtRate } from '../sql-writer.ts';
import { SubscriberGroup } from '../subscriber-group.ts';
import type { ScenarioContext } from './context.ts';

const INSERT_CHUNK = 10_000;

export async function runCatchUp(ctx: ScenarioContext): Promise<void> {
  const events = ctx.sizes.catchUpEvents;
  const databaseUrl = await ctx.database.create('bench_catchup');
  const server = await startServer({ DATABASE_URL: databaseUrl });
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const group = new SubscriberGroup(1, 1);
  try {
    const from = await currentPosition(sql);
    ctx.log(`catch-up: writing ${events.toLocaleString('en-US')} events`);
    for (let done = 0; done < events; done += INSERT_CHUNK) {
      const n = Math.min(INSERT_CHUNK, events - done);
      await sql`insert into orders (customer_name, product_name) select 'Bench', 'Backlog ' || g from generate_series(1, ${n}::int) g`;
    }
    // Let the listener publish the backlog to nobody before the clock starts.
    await new Promise((r) => setTimeout(r, ctx.sizes.settleMs));

    const sampler = sampleProcess(server.pid, ctx.database.postmasterPid);
    const { subscribeSentAt } = await group.connect({ url: server.wsUrl, lastEventId: from, protocol: 'trpc' });
    const replay = await group.collect(events, null, ctx.sizes.phaseDeadlineMs, subscribeSentAt);
    const usage = sampler.stop();
    const eventsPerSecond = replay.deliveries / replay.seconds;

    // Live again: one more commit arrives through the live path.
    const sent = await writeAtRate(sql, 1, 1);
    const live = await group.collect(1, sent, 10_000);
    const frameBytes = replay.frameBytes;
    const growthMb = usage.rssMaxMb - usage.rssStartMb;
    // "Flat": the server held well under half of what the replay weighs on the wire.
    const flatLimitMb = (0.5 * events * frameBytes) / 2 ** 20;
    ctx.details.catchUp = { events, replay, live, usage, rssSamples: sampler.samples, flatLimitMb };
    ctx.log(
      `catch-up: ${Math.round(eventsPerSecond).toLocaleString('en-US')} events/s, RSS +${growthMb.toFixed(1)} MB, ` +
        `${replay.outOfOrder} out of order, live event in ${live.latency.p50.toFixed(1)} ms`,
    );
    if (replay.deliveries !== events) ctx.log(`  catch-up: received ${replay.deliveries} of ${events}`);

    const scenario = `catch-up ${events.toLocaleString('en-US')}`;
    ctx.rows.push({
      scenario,
      metric: 'events/s to one client',
      unit: '/s',
      ours: eventsPerSecond,
      target: '>= 50,000/s',
      pass: eventsPerSecond >= 50_000 && replay.deliveries === events,
    });
    ctx.rows.push({
      scenario,
      metric: 'server RSS growth while replaying',
      unit: 'MB',
      ours: growthMb,
      target: `flat (<= ${flatLimitMb.toFixed(1)} MB)`,
      pass: growthMb <= flatLimitMb,
    });
    ctx.rows.push({ scenario, metric: 'server CPU while replaying', unit: 'cores', ours: usage.serverCpu });
    ctx.rows.push({ scenario, metric: 'database CPU while replaying', unit: 'cores', ours: usage.databaseCpu });
    ctx.rows.push({ scenario, metric: 'then one live event', unit: 'ms', ours: live.latency.max });
  } finally {
    await group.close();
    await sql.end({ timeout: 1 });
    await server.stop();
  }
}
