import { createSignal, onCleanup } from 'solid-js';
import type { Api } from 'live-orders-client';
import type { OrderEvent } from '../../../shared/orders.ts';
import { FLOW_BUCKETS, FLOW_KINDS, flowKindsOf, type Flow, type FlowBucketSize, type FlowKind } from '../../../shared/order-flow.ts';
import { createLiveAggregate } from './live-aggregate.ts';

export type FlowScale = FlowBucketSize;

/** Each scale as the chart names it. */
export const FLOW_SCALE_LABELS: Record<FlowScale, string> = { minute: 'Last hour', hour: 'Last day' };

/**
 * The chart's series: orders per kind of change in each bucket, oldest bucket first. `start`
 * is the first bucket's start (ms since the epoch); every series has one number per bucket.
 */
export type FlowSeries = { start: number; bucketMs: number } & Record<FlowKind, number[]>;

export const emptyFlow = (scale: FlowScale, now = Date.now()): FlowSeries => {
  const { ms, count } = FLOW_BUCKETS[scale];
  const start = (Math.floor(now / ms) - count + 1) * ms;
  return { start, bucketMs: ms, created: Array(count).fill(0), shipped: Array(count).fill(0), delivered: Array(count).fill(0), cancelled: Array(count).fill(0) };
};

/** The server's buckets as the chart's series. */
export function toSeries(flow: Flow): FlowSeries {
  const series = emptyFlow(flow.bucket, Date.parse(flow.end) - 1);
  series.start = Date.parse(flow.buckets[0]?.start ?? new Date(series.start).toISOString());
  for (const kind of FLOW_KINDS) series[kind] = flow.buckets.map((b) => b[kind]);
  return series;
}

/** Slides the window so that its last bucket holds `time`; buckets that fall out are dropped. */
export function slideTo(flow: FlowSeries, time: number): void {
  const length = flow.created.length;
  const last = flow.start + (length - 1) * flow.bucketMs;
  const by = Math.floor((time - last) / flow.bucketMs);
  if (by <= 0) return;
  for (const kind of FLOW_KINDS) {
    const kept = flow[kind].slice(Math.min(by, length));
    flow[kind] = kept.concat(Array(length - kept.length).fill(0));
  }
  flow.start += by * flow.bucketMs;
}

/** Counts one event in its bucket (the one its commit time falls in), as the server does (flowKindsOf). */
export function addToFlow(flow: FlowSeries, event: OrderEvent): void {
  const kinds = flowKindsOf(event);
  if (kinds.length === 0) return;
  const time = Date.parse(event.at);
  slideTo(flow, time);
  const index = Math.floor((time - flow.start) / flow.bucketMs);
  if (index < 0 || index >= flow.created.length) return;
  for (const kind of kinds) flow[kind][index]! += 1;
}

/**
 * The flow chart's data: the server's flow query at a known position, moved by every live
 * event after it (live-aggregate.ts), and slid along as the clock passes a bucket.
 */
export function createFlow(api: () => Api) {
  const [scale, setScale] = createSignal<FlowScale>('minute');
  const aggregate = createLiveAggregate<FlowSeries>({
    empty: () => emptyFlow(scale()),
    read: async () => {
      const answer = await api().orders.flow.query({ bucket: scale() });
      return { value: toSeries(answer), lastEventId: answer.lastEventId };
    },
    apply: addToFlow,
  });
  // A quiet minute still moves the chart along.
  const tick = setInterval(() => aggregate.modify((flow) => slideTo(flow, Date.now())), 5_000);
  onCleanup(() => clearInterval(tick));
  return {
    ...aggregate,
    scale,
    setScale(next: FlowScale) {
      if (next === scale()) return;
      setScale(next);
      aggregate.reload();
    },
  };
}
