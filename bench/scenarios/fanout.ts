/**
 * Fan-out: S subscribers on WebSocket, changes committed at a fixed rate, then a flood.
 * Latency runs from the writer's "COMMIT returned" to the subscriber's receipt. The baseline
 * is a bare `ws` server sending same-sized frames to the same number of sockets, measured by
 * the same subscriber processes at the same rate and event count.
 */
import postgres from 'postgres';
import { startChild } from '../child.ts';
import { sampleProcess, type ProcessUsage } from '../proc-stats.ts';
import { cpuProfileFlags, startServer } from '../server-process.ts';
import { currentPosition, nextOrderId, writeAtRate, writeFlood } from '../sql-writer.ts';
import { SubscriberGroup, type PhaseResult } from '../subscriber-group.ts';
import type { BroadcastArgs, BroadcastResult } from '../baseline-ws-server.ts';
import type { ScenarioContext } from './context.ts';

export type Measured = PhaseResult & { usage: ProcessUsage };
/**
 * `floodReleaseMs`: ours, when each flood event was committed, in ms after the first (the
 * pace the baseline is handed the flood at). `floodAtOnce`: the baseline, handed every flood
 * event at once, as before the pacing.
 */
export type SystemResult = { rate: Measured; flood?: Measured; floodReleaseMs?: number[]; floodAtOnce?: Measured };

/** One fan-out measurement: warm-up and measured events at `rate` per second, then a flood (0: none). */
export type FanoutPlan = { subscribers: number; processes: number; rate: number; warmupEvents: number; rateEvents: number; floodEvents: number };

// Until the first run tells us the real size, what a created-order event frame measures.
const DEFAULT_FRAME_BYTES = 330;

export async function runFanout(ctx: ScenarioContext): Promise<void> {
  const { sizes } = ctx;
  const results: Record<string, { ours: SystemResult; baseline: SystemResult }> = {};
  for (const subscribers of sizes.fanoutSubscribers) {
    const rateEvents = sizes.fixedRate * sizes.fixedRateSeconds;
    const floodEvents = Math.round(
      Math.min(sizes.floodMaxEvents, Math.max(sizes.floodMinEvents, sizes.floodDeliveries / subscribers)),
    );
    const processes = Math.max(sizes.subscriberProcesses, Math.ceil(subscribers / ctx.socketsPerProcess));

    ctx.log(`fanout: ${subscribers} subscribers on live-orders (${rateEvents} at ${sizes.fixedRate}/s, then ${floodEvents} flooded)`);
    const plan: FanoutPlan = { subscribers, processes, rate: sizes.fixedRate, warmupEvents: sizes.warmupEvents, rateEvents, floodEvents };
    const ours = await measureOurs(ctx, plan);
    ctx.log(`fanout: ${subscribers} subscribers on the bare ws baseline`);
    const baseline = await measureBaseline(ctx, plan, Math.round(ours.rate.frameBytes) || DEFAULT_FRAME_BYTES, ours.floodReleaseMs);
    const oursFlood = ours.flood!;
    const baselineFlood = baseline.flood!;
    results[subscribers] = { ours, baseline };

    const scenario = `fan-out ${subscribers.toLocaleString('en-US')}`;
    const rateNote = `${sizes.fixedRate}/s`;
    // The latency targets, where the brief sets one for this subscriber count.
    const targets: Partial<Record<'p50' | 'p99', { target: string; pass: boolean }>> = {};
    if (subscribers === 100) {
      targets.p50 = { target: '<= 3 ms', pass: ours.rate.latency.p50 <= 3 };
      targets.p99 = { target: '<= 10 ms', pass: ours.rate.latency.p99 <= 10 };
    }
    if (subscribers === 1000) {
      const limit = 1.5 * baseline.rate.latency.p99 + 5;
      targets.p99 = { target: `<= 1.5x base + 5 ms (${limit.toFixed(1)})`, pass: ours.rate.latency.p99 <= limit };
    }
    for (const metric of ['p50', 'p90', 'p99', 'max'] as const) {
      ctx.rows.push({
        scenario,
        metric: `latency ${metric}`,
        note: rateNote,
        unit: 'ms',
        ours: ours.rate.latency[metric],
        baseline: baseline.rate.latency[metric],
        ...(metric === 'p50' || metric === 'p99' ? targets[metric] : {}),
      });
    }
    ctx.rows.push({
      scenario,
      metric: 'delivered',
      note: rateNote,
      unit: '%',
      ours: (100 * ours.rate.deliveries) / ours.rate.expectedDeliveries,
      baseline: (100 * baseline.rate.deliveries) / baseline.rate.expectedDeliveries,
    });
    ctx.rows.push({ scenario, metric: 'server CPU', note: rateNote, unit: 'cores', ours: ours.rate.usage.serverCpu, baseline: baseline.rate.usage.serverCpu });
    ctx.rows.push({ scenario, metric: 'database CPU', note: rateNote, unit: 'cores', ours: ours.rate.usage.databaseCpu });
    const floodNote = `flood, ${floodEvents.toLocaleString('en-US')} events`;
    ctx.rows.push({
      scenario,
      metric: 'deliveries/s',
      note: floodNote,
      unit: '/s',
      ours: oursFlood.deliveriesPerSecond,
      baseline: baselineFlood.deliveriesPerSecond,
      ...(subscribers === 1000
        ? { target: '>= base', pass: oursFlood.deliveriesPerSecond >= baselineFlood.deliveriesPerSecond }
        : {}),
    });
    ctx.rows.push({
      scenario,
      metric: 'deliveries/s',
      note: 'flood: bare ws handed every event at once',
      unit: '/s',
      ours: oursFlood.deliveriesPerSecond,
      baseline: baseline.floodAtOnce!.deliveriesPerSecond,
    });
    ctx.rows.push({
      scenario,
      metric: 'commits, first to last',
      note: 'flood',
      unit: 'ms',
      ours: commitSpanMs(ours.floodReleaseMs!),
    });
    ctx.rows.push({
      scenario,
      metric: 'delivered',
      note: 'flood',
      unit: '%',
      ours: (100 * oursFlood.deliveries) / oursFlood.expectedDeliveries,
      baseline: (100 * baselineFlood.deliveries) / baselineFlood.expectedDeliveries,
    });
    for (const metric of ['p50', 'p99'] as const) {
      ctx.rows.push({ scenario, metric: `latency ${metric}`, note: 'flood', unit: 'ms', ours: oursFlood.latency[metric], baseline: baselineFlood.latency[metric] });
    }
    ctx.rows.push({ scenario, metric: 'server CPU', note: 'flood', unit: 'cores', ours: oursFlood.usage.serverCpu, baseline: baselineFlood.usage.serverCpu });
    // Runnable but not running: on a shared 2-core machine, the scheduler's share of the figure.
    ctx.rows.push({
      scenario,
      metric: 'server waiting for a CPU',
      note: 'flood',
      unit: '%',
      ours: 100 * oursFlood.usage.serverCpuWait,
      baseline: 100 * baselineFlood.usage.serverCpuWait,
    });
    ctx.rows.push({ scenario, metric: 'database CPU', note: 'flood', unit: 'cores', ours: oursFlood.usage.databaseCpu });
    ctx.rows.push({ scenario, metric: 'server RSS max', note: 'flood', unit: 'MB', ours: oursFlood.usage.rssMaxMb, baseline: baselineFlood.usage.rssMaxMb });
  }
  ctx.details.fanout = results;
}

export async function measureOurs(ctx: ScenarioContext, plan: FanoutPlan, ordering?: 'commit' | 'sequenced'): Promise<SystemResult> {
  const { subscribers, processes, rate: perSecond, rateEvents, floodEvents } = plan;
  const databaseUrl = await ctx.database.create(`bench_fanout_${subscribers}_${perSecond}${ordering ? `_${ordering}` : ''}`);
  const server = await startServer({ DATABASE_URL: databaseUrl, EVENT_ORDERING: ordering ?? 'commit' });
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const group = new SubscriberGroup(subscribers, processes);
  try {
    await group.connect({ url: server.wsUrl, lastEventId: await currentPosition(sql), protocol: 'trpc' });
    await settle(ctx.sizes.settleMs);

    // Warm-up at the fixed rate, not counted (the baseline gets the same).
    await group.begin(await nextOrderId(sql));
    await group.collect(plan.warmupEvents, await writeAtRate(sql, perSecond, plan.warmupEvents), ctx.sizes.phaseDeadlineMs);

    await group.begin(await nextOrderId(sql));
    let sampler = sampleProcess(server.pid, ctx.database.postmasterPid);
    let sent = await writeAtRate(sql, perSecond, rateEvents);
    const rate = { ...(await group.collect(rateEvents, sent, ctx.sizes.phaseDeadlineMs)), usage: sampler.stop() };
    check(ctx, `fan-out ${subscribers} at ${perSecond}/s`, rate);
    if (floodEvents === 0) return { rate };
    // A phase that ran out of time leaves a backlog that would slow the next one down.
    if (rate.deliveries < rate.expectedDeliveries) await settle(ctx.sizes.settleMs * 5);

    await group.begin(await nextOrderId(sql));
    sampler = sampleProcess(server.pid, ctx.database.postmasterPid);
    sent = await writeFlood(sql, floodEvents);
    const flood = { ...(await group.collect(floodEvents, sent, ctx.sizes.phaseDeadlineMs)), usage: sampler.stop() };
    const floodReleaseMs = sent.map(([, at]) => at - sent[0]![1]);
    ctx.log(`  fan-out ${subscribers} (flood): ${floodEvents} events committed in ${commitSpanMs(floodReleaseMs).toFixed(0)} ms`);
    check(ctx, `fan-out ${subscribers} (flood)`, flood);
    return { rate, flood, floodReleaseMs };
  } finally {
    await group.close();
    await sql.end({ timeout: 1 });
    await server.stop();
  }
}

/** `floodReleaseMs`: the pace our flood's events were committed at (SystemResult). */
export async function measureBaseline(
  ctx: ScenarioContext,
  plan: FanoutPlan,
  frameBytes: number,
  floodReleaseMs?: number[],
): Promise<SystemResult> {
  const { subscribers, processes, rate: perSecond, warmupEvents: warmup, rateEvents, floodEvents } = plan;
  const server = startChild('./baseline-ws-server.ts', cpuProfileFlags());
  const group = new SubscriberGroup(subscribers, processes);
  try {
    const { url } = await server.call<{ url: string }>('listen');
    await group.connect({ url, lastEventId: null, protocol: 'raw' });
    await settle(ctx.sizes.settleMs);

    const broadcast = (args: BroadcastArgs) => server.call<BroadcastResult>('broadcast', args, ctx.sizes.phaseDeadlineMs * 2);
    await group.begin(1);
    let { sentTimes } = await broadcast({ count: warmup, rate: perSecond, frameBytes, firstSeq: 1 });
    await group.collect(warmup, sentTimes, ctx.sizes.phaseDeadlineMs);

    await group.begin(warmup + 1);
    let sampler = sampleProcess(server.pid, undefined);
    ({ sentTimes } = await broadcast({ count: rateEvents, rate: perSecond, frameBytes, firstSeq: warmup + 1 }));
    const rate = { ...(await group.collect(rateEvents, sentTimes, ctx.sizes.phaseDeadlineMs)), usage: sampler.stop() };
    check(ctx, `baseline ${subscribers} at ${perSecond}/s`, rate);
    if (floodEvents === 0) return { rate };

    const floodAt = async (firstSeq: number, releaseAtMs: number[] | undefined, what: string): Promise<Measured> => {
      await group.begin(firstSeq);
      const floodSampler = sampleProcess(server.pid, undefined);
      ({ sentTimes } = await broadcast({ count: floodEvents, rate: 0, frameBytes, firstSeq, releaseAtMs }));
      const measured = { ...(await group.collect(floodEvents, sentTimes, ctx.sizes.phaseDeadlineMs)), usage: floodSampler.stop() };
      check(ctx, `baseline ${subscribers} (${what})`, measured);
      return measured;
    };
    const firstFloodSeq = warmup + rateEvents + 1;
    const flood = await floodAt(firstFloodSeq, floodReleaseMs, floodReleaseMs ? 'flood at our commits\' pace' : 'flood');
    await settle(ctx.sizes.settleMs);
    const floodAtOnce = await floodAt(firstFloodSeq + floodEvents, undefined, 'flood, every event at once');
    return { rate, flood, floodAtOnce };
  } finally {
    await group.close();
    await server.call('close').catch(() => {});
    await server.stop();
  }
}

/** From the first commit to the last: the part of a flood's time that is the database's. */
function commitSpanMs(releaseMs: number[]): number {
  return releaseMs.at(-1) ?? 0;
}

/** Lets connection set-up garbage settle before the clock starts. */
function settle(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Lost, reordered or foreign deliveries are findings, not harness failures: say so loudly. */
export function check(ctx: ScenarioContext, what: string, phase: PhaseResult): void {
  if (phase.deliveries < phase.expectedDeliveries) {
    ctx.log(`  ${what}: only ${phase.deliveries} of ${phase.expectedDeliveries} deliveries before the deadline`);
  }
  if (phase.outOfOrder > 0) ctx.log(`  ${what}: ${phase.outOfOrder} deliveries out of order or repeated`);
  if (phase.stale > 0) ctx.log(`  ${what}: ${phase.stale} late deliveries of the previous phase (not counted)`);
  if (phase.unmatched > 0) ctx.log(`  ${what}: ${phase.unmatched} deliveries of orders this phase did not write`);
  for (const e of phase.errors) ctx.log(`  ${what}: ${e}`);
  ctx.log(
    `  ${what}: p50 ${phase.latency.p50.toFixed(2)} ms, p99 ${phase.latency.p99.toFixed(2)} ms, ` +
      `${Math.round(phase.deliveriesPerSecond).toLocaleString('en-US')} deliveries/s`,
  );
}
