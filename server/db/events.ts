import { and, asc, desc, eq, gt, sql } from 'drizzle-orm';
import type { EventFilter, OrderEvent } from '../../shared/orders.ts';
import { LoggedEvent } from '../events/logged-event.ts';
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
 * The events after `after` that `filter` matches, matched in SQL the way `matchesFilter`
 * matches live events (status: the order's status after the change).
 */
function afterMatching(after: string, filter: EventFilter) {
  return and(
    gt(orderEvents.id, BigInt(after)),
    filter.orderId === undefined ? undefined : eq(orderEvents.orderId, BigInt(filter.orderId)),
    filter.status === undefined ? undefined : sql`${orderEvents.order}->>'status' = ${filter.status}`,
  );
}

/**
 * Events after `after` that match `filter`, in position order, at most `limit`. One query
 * per page, whoever asks: the listener and every replaying subscriber.
 */
export async function readEventsAfter(
  db: Executor,
  after: string,
  limit: number,
  filter: EventFilter = {},
): Promise<OrderEvent[]> {
  const rows = await db.select().from(orderEvents).where(afterMatching(after, filter)).orderBy(asc(orderEvents.id)).limit(limit);
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

// JavaScript's toISOString(), as order_json() in the trigger migration writes it.
const ISO_FORMAT = sql.raw(`'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`);

/**
 * `readEventsAfter`, with each event as JSON made by PostgreSQL, in the shape of
 * `toOrderEvent`: what replaying subscribers read, since they only pass events on.
 */
export async function readEventJsonAfter(
  db: Executor,
  after: string,
  limit: number,
  filter: EventFilter = {},
): Promise<LoggedEvent[]> {
  const e = orderEvents;
  const rows = await db
    .select({
      id: sql<string>`${e.id}::text`,
      // Concatenated rather than json_build_object(): 1.7 times the rows per second of
      // database time, and compact. Strings go through to_json() for their escaping; ids
      // are digits; "order" and "changes" are jsonb already.
      json: sql<string>`'{"id":"' || ${e.id} || '","type":' || to_json(${e.type})::text || ',"orderId":"' || ${e.orderId}
        || '","order":' || ${e.order}::text || ',"actor":' || to_json(${e.actor})::text
        || ',"at":"' || to_char(${e.at} at time zone 'UTC', ${ISO_FORMAT}) || '"'
        || coalesce(',"changes":' || ${e.changes}::text, '') || '}'`,
    })
    .from(e)
    .where(afterMatching(after, filter))
    .orderBy(asc(e.id))
    .limit(limit);
  return rows.map((r) => new LoggedEvent(r.id, r.json));
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
