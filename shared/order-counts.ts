import { ORDER_STATUSES, type OrderStatus } from './order-status.ts';
import type { OrderEvent } from './orders.ts';

/** Orders per status. */
export type StatusCounts = Record<OrderStatus, number>;

/** What `orders.counts` returns: the orders per status, exact at `lastEventId`. */
export type OrderCounts = {
  counts: StatusCounts;
  /** every order, whatever its status: the sum of `counts` */
  total: number;
  /** the position the counts are exact at: the log's head, or the `asOf` asked for */
  lastEventId: string;
};

/** Zero orders in every status. */
export function zeroCounts(): StatusCounts {
  return Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as StatusCounts;
}

/**
 * How one event moves the counts: +1 for the status an order enters, -1 for the one it
 * leaves. 'created' enters its status, 'deleted' leaves its last one, 'updated' moves from
 * `changes.status.from` to `.to` (and changes no count when the status did not change). The
 * server's SQL (server/db/order-counts.ts) says the same; a test pins them together.
 */
export function countMoves(event: Pick<OrderEvent, 'type' | 'order' | 'changes'>): [OrderStatus, 1 | -1][] {
  if (event.type === 'created') return [[event.order.status, 1]];
  if (event.type === 'deleted') return [[event.order.status, -1]];
  const status = event.changes?.status;
  if (!status) return [];
  return [
    [status.from as OrderStatus, -1],
    [status.to as OrderStatus, 1],
  ];
}

/** Applies `countMoves(event)` to `counts` in place. */
export function applyCountMoves(counts: StatusCounts, event: Pick<OrderEvent, 'type' | 'order' | 'changes'>): void {
  for (const [status, delta] of countMoves(event)) counts[status] += delta;
}

/** The sum over every status. */
export function totalOf(counts: StatusCounts): number {
  return ORDER_STATUSES.reduce((sum, s) => sum + counts[s], 0);
}
