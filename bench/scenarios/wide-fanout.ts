/**
 * Wide fan-out: many subscribers at a low rate, as a new user would first try it (10,000
 * subscribers at 5 changes/s). Measured like the fan-out scenario (same subscriber processes,
 * COMMIT-to-receipt latency, a bare `ws` baseline at the same rate and size), without a flood:
 * what matters here is that every event arrives, the tail latency, and the server's memory.
 */
import { measureBaseline, measureOurs, type FanoutPlan } from './fanout.ts';
import type { ScenarioContext } from './context.ts';

// Until the run tells us the real size, what a created-order event message measures.
const DEFAULT_FRAME_BYTES = 330;

export async function runWideFanout(ctx: ScenarioContext): Promise<void> {
  const { subscribers, rate, seconds, warmupEvents } = ctx.sizes.wide;
  const plan: FanoutPlan = {
    subscribers,
    processes: Math.max(ctx.sizes.subscriberProcesses, Math.ceil(subscribers / ctx.socketsPerProcess)),
    rate,
    warmupEvents,
    rateEvents: rate * seconds,
    floodEvents: 0,
  };
  ctx.log(`wide: ${subscribers} subscribers on live-orders (${plan.rateEvents} at ${rate}/s)`);
  const ours = await measureOurs(ctx, plan);
  ctx.log(`wide: ${subscribers} subscribers on the bare ws baseline`);
  const baseline = await measureBaseline(ctx, plan, Math.round(ours.rate.frameBytes) || DEFAULT_FRAME_BYTES);
  ctx.details.wide = { plan, ours, baseline };

  const scenario = `fan-out ${subscribers.toLocaleString('en-US')}`;
  const note = `${rate}/s`;
  const delivered = (r: typeof ours.rate) => (100 * r.deliveries) / r.expectedDeliveries;
  ctx.rows.push({
    scenario,
    metric: 'delivered',
    note,
    unit: '%',
    ours: delivered(ours.rate),
    baseline: delivered(baseline.rate),
    target: '100 %',
    pass: ours.rate.deliveries === ours.rate.expectedDeliveries,
  });
  for (const metric of ['p50', 'p90', 'p99', 'max'] as const) {
    const limit = 2 * baseline.rate.latency.p99;
    ctx.rows.push({
      scenario,
      metric: `latency ${metric}`,
      note,
      unit: 'ms',
      ours: ours.rate.latency[metric],
      baseline: baseline.rate.latency[metric],
      ...(metric === 'p99' ? { target: `<= 2x base (${limit.toFixed(1)})`, pass: ours.rate.latency.p99 <= limit } : {}),
    });
  }
  ctx.rows.push({ scenario, metric: 'server CPU', note, unit: 'cores', ours: ours.rate.usage.serverCpu, baseline: baseline.rate.usage.serverCpu });
  const rssLimit = 2 * baseline.rate.usage.rssMaxMb;
  ctx.rows.push({
    scenario,
    metric: 'server RSS max',
    note,
    unit: 'MB',
    ours: ours.rate.usage.rssMaxMb,
    baseline: baseline.rate.usage.rssMaxMb,
    target: `<= 2x base (${rssLimit.toFixed(0)})`,
    pass: ours.rate.usage.rssMaxMb <= rssLimit,
  });
}
