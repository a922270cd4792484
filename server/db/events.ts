import { and, asc, desc, eq, gt, sql } from 'drizzle-orm';
import type { EventFilter, OrderEvent } from '../../shared/orders.ts';
import type { Executor } from './client.ts';
import { orderEvents, type OrderEventRow } from './schema.ts';

export function toOrderEvent(row: OrderEventRow): OrderEvent {
  const event: OrderEvent = {
    id: row.id.toString(),
    type: row.type,
    orderId: row.orderId.toString(),
    order: row.order,
    actor: row.actor,
    at: row.at.toISOString(),
  };
  if (row.changes) event.changes = row.changes;
  return event;
}

/**
 * Events after `after` in position order, at most `limit`, filtered in SQL the same way
 * `matchesFilter` filters live events (status: the order's status after the change).
 * One query per page, whoever asks: the listener and every replaying subscriber.
 */
export async function readEventsAfter(
  db: Executor,
  after: string,
  limit: number,
  filter: EventFilter = {},
): Promise<OrderEvent[]> {
  const rows = await db
    .select()
    .from(orderEvents)
    .where(
      and(
        gt(orderEvents.id, BigInt(after)),
        filter.orderId === undefined ? undefined : eq(orderEvents.orderId, BigInt(filter.orderId)),
        filter.status === undefined ? undefined : sql`${orderEvents.order}->>'status' = ${filter.status}`,
      ),
    )
    .orderBy(asc(orderEvents.id))
    .limit(limit);
  return rows.map(toOrderEvent);
}

/** The position of the newest visible event, "0" for an empty log. */
export async function lastEventPosition(db: Executor): Promise<string> {
  const [row] = await db
    .select({ id: orderEvents.id })
    .from(orderEvents)
    .orderBy(desc(orderEvents.id))
    .limit(1);
  return row?.id.toString() ?? '0';
}

/** Every event of one order, oldest first. */
export async function orderHistory(db: Executor, orderId: string): Promise<OrderEvent[]> {
  const rows = await db
    .select()
    .from(orderEvents)
    .where(eq(orderEvents.orderId, BigInt(orderId)))
    .orderBy(asc(orderEvents.id));
  return rows.map(toOrderEvent);
}

/** The last state the log holds of an order, deleted or not. */
export async function lastKnownOrder(db: Executor, orderId: string) {
  const [row] = await db
    .select({ order: orderEvents.order })
    .from(orderEvents)
    .where(eq(orderEvents.orderId, BigInt(orderId)))
    .orderBy(desc(orderEvents.id))
    .limit(1);
  return row?.order;
}
