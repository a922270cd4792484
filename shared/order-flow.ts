import type { OrderEvent } from './orders.ts';

/**
 * What the flow counts, per time bucket. `created`: an order was created (whatever its
 * status). `shipped`, `delivered`, `cancelled`: an order entered that status, by a 'created'
 * event in it or by an 'updated' event whose `changes.status.to` is it. A write that leaves
 * the status as it was, a deletion, and entering 'pending' or 'confirmed' count for none.
 */
export const FLOW_KINDS = ['created', 'shipped', 'delivered', 'cancelled'] as const;
export type FlowKind = (typeof FLOW_KINDS)[number];

/** The statuses the flow follows (entering them counts). */
const ENTERED: ReadonlySet<string> = new Set<FlowKind>(['shipped', 'delivered', 'cancelled']);

/** The bucket sizes `orders.flow` offers: a minute over the last hour, an hour over the last day. */
export const FLOW_BUCKETS = {
  minute: { ms: 60_000, count: 60 },
  hour: { ms: 3_600_000, count: 24 },
} as const;
export type FlowBucketSize = keyof typeof FLOW_BUCKETS;

/** One bucket: events with `start <= at < start + size`. */
export type FlowBucket = { start: string } & Record<FlowKind, number>;

/** What `orders.flow` returns. */
export type Flow = {
  bucket: FlowBucketSize;
  /** oldest first; the last is the current (still filling) one */
  buckets: FlowBucket[];
  /** where the buckets end (exclusive): the end of the current bucket */
  end: string;
  /** the buckets hold every event up to this position and none after: apply events after it */
  lastEventId: string;
};

/**
 * The kinds one event counts for (none, one, or two: created as shipped counts as created
 * and shipped). The server's SQL (server/db/order-flow.ts) says the same; a test pins them.
 */
export function flowKindsOf(event: Pick<OrderEvent, 'type' | 'order' | 'changes'>): FlowKind[] {
  if (event.type === 'created') {
    return ENTERED.has(event.order.status) ? ['created', event.order.status as FlowKind] : ['created'];
  }
  if (event.type === 'updated') {
    const to = event.changes?.status?.to;
    if (typeof to === 'string' && ENTERED.has(to)) return [to as FlowKind];
  }
  return [];
}
