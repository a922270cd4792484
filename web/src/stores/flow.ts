import { createSignal, onCleanup } from 'solid-js';
import type { Api } from 'live-orders-client';
import type { OrderEvent } from '../../../shared/orders.ts';
import { createLiveAggregate } from './live-aggregate.ts';

export const FLOW_KINDS = ['created', 'shipped', 'delivered', 'cancelled'] as const;
export type FlowKind = (typeof FLOW_KINDS)[number];

export type FlowScale = 'minute' | 'hour';

/** Each scale's bucket and how many of them the chart shows: the last hour, the last day. */
export const FLOW_SCALES: Record<FlowScale, { bucketMs: number; buckets: number; label: string }> = {
  minute: { bucketMs: 60_000, buckets: 60, label: 'Last hour' },
  hour: { bucketMs: 3_600_000, buckets: 24, label: 'Last day' },
};

/**
 * Orders per kind of change in each bucket, oldest bucket first. `start` is the first
 * bucket's start (ms since the epoch); every series has one number per bucket.
 */
export type Flow = { start: number; bucketMs: number } & Record<FlowKind, number[]>;

export const emptyFlow = (scale: FlowScale, now = Date.now()): Flow => {
  const { bucketMs, buckets } = FLOW_SCALES[scale];
  const start = (Math.floor(now / bucketMs) - buckets + 1) * bucketMs;
  return { start, bucketMs, created: Array(buckets).fill(0), shipped: Array(buckets).fill(0), delivered: Array(buckets).fill(0), cancelled: Array(buckets).fill(0) };
};

/** The kind of flow an event is, if any (the server's definition: see its flow query). */
export function flowKindOf(event: OrderEvent): FlowKind | null {
  if (event.type === 'created') return 'created';
  const to = event.type === 'updated' ? event.changes?.status?.to : undefined;
  return to === 'shipped' || to === 'delivered' || to === 'cancelled' ? to : null;
}

/** Slides the window so that its last bucket holds `time`; buckets that fall out are dropped. */
export function slideTo(flow: Flow, time: number): void {
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

/** Counts one event in its bucket: the one its commit time falls in. */
export function addToFlow(flow: Flow, event: OrderEvent): void {
  const kind = flowKindOf(event);
  if (!kind) return;
  const time = Date.parse(event.at);
  slideTo(flow, time);
  const index = Math.floor((time - flow.start) / flow.bucketMs);
  if (index >= 0 && index < flow[kind].length) flow[kind][index]! += 1;
}

/**
 * The flow chart's data: the server's flow query at a known position, moved by every live
 * event after it (live-aggregate.ts), and slid along as the clock passes a bucket.
 */
export function createFlow(api: () => Api) {
  const [scale, setScale] = createSignal<FlowScale>('minute');
  const aggregate = createLiveAggregate<Flow>({
    empty: () => emptyFlow(scale()),
    read: async () => {
      const answer = await api().orders.flow.query({ bucket: scale() });
      return { value: toFlow(scale(), answer), lastEventId: answer.lastEventId };
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
