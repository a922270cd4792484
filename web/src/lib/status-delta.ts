import type { OrderEvent } from '../../../shared/orders.ts';
import { ORDER_STATUSES, type OrderStatus } from '../../../shared/order-status.ts';

export type StatusCounts = Record<OrderStatus, number>;

export const zeroCounts = (): StatusCounts => Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as StatusCounts;

/**
 * How one event moves the orders-per-status counts, read from the event alone (never from the
 * rows a page holds), so counts kept this way disagree with the rows if an event was missed
 * or applied twice. `sign` -1 undoes the event (stepping back through a replay).
 */
export function moveCounts(counts: StatusCounts, event: OrderEvent, sign: 1 | -1 = 1): void {
  if (event.type === 'created') counts[event.order.status] += sign;
  else if (event.type === 'deleted') counts[event.order.status] -= sign;
  else if (event.changes?.status) {
    counts[event.changes.status.from as OrderStatus] -= sign;
    counts[event.changes.status.to as OrderStatus] += sign;
  }
}

export const totalOf = (counts: StatusCounts) => ORDER_STATUSES.reduce((sum, s) => sum + counts[s], 0);
