import { TRPCError } from '@trpc/server';
import { and, asc, desc, eq, gt, sql, type SQL } from 'drizzle-orm';
import type { EventFilter, HistoryEvent, OrderEvent } from '../../shared/orders.ts';
import { LoggedEvent } from '../events/logged-event.ts';
import { isAfter } from '../events/position.ts';
import { parseResumeId, positionOf, type ParsedResumeId, type ResumeId } from '../../shared/resume-id.ts';
import { executePrepared, type Executor } from './client.ts';
import { digestAt, eventDigest } from './event-digest.ts';
import { orderEvents, orderEventsPruned, type OrderEventRow } from './schema.ts';

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
 * A position the log cannot serve without a gap: events after it were pruned
 * (EVENT_RETENTION); it is beyond the log's last position (as after a database restore); or
 * the event the client saw there is gone, because the log's history changed under it (a
 * failover to a replica that lacked it, or a restore, after which new writes took its
 * position again). Answering would skip events the client never saw, or build on one that no
 * longer happened, so the read is refused instead, as PRECONDITION_FAILED: the client reloads
 * its snapshot and goes on from there.
 */
export class LogGapError extends TRPCError {
  override name = 'LogGapError';
  constructor(
    readonly position: string,
    readonly reason: 'pruned' | 'ahead' | 'diverged',
    /** events up to here were pruned */
    readonly prunedThrough: string,
    /** the log's last position */
    readonly last: string,
    /** the log's last position as a resume id: where a reader that must skip goes on from */
    readonly head: ResumeId = last,
  ) {
    super({
      code: 'PRECONDITION_FAILED',
      message:
        reason === 'pruned'
          ? `position ${position} is no longer in the log: events up to ${prunedThrough} were pruned; reload (orders.list) and subscribe from its resumeId`
          : reason === 'ahead'
            ? `position ${position} is ahead of the log, which ends at ${last} (was the database restored?); reload (orders.list) and subscribe from its resumeId`
            : `event ${position} is no longer in the log as you saw it: the log's history changed (the database failed over to a replica that lacked it, or was restored from a backup); reload (orders.list) and subscribe from its resumeId`,
    });
  }
}

/**
 * How far the log's start was pruned, as a column of a page query. Pruning deletes events
 * and raises `through` in one transaction, so a statement that sees `through` at or below
 * its start position sees every event after that position: no prune can have taken one from
 * under it, whatever runs concurrently. (A scalar subquery, run once per statement: as cheap
 * as the page alone, where a join with the page cost a third of replay throughput.)
 */
const prunedEnd = sql`coalesce((select ${orderEventsPruned.through} from ${orderEventsPruned}), 0)`;
const prunedThroughColumn = sql<string>`${prunedEnd}::text`;

/**
 * The digest of the event at the position a read starts after, as a column of the same
 * statement, when the reader named one (a resume id with a digest); else null.
 */
const anchorColumn = (after: ParsedResumeId | null) =>
  after?.digest == null ? sql<string | null>`null::text` : digestAt(BigInt(after.position));

/** The newest event as a resume id, null for an empty log. */
const newestEvent = sql<string | null>`(select ${orderEvents.id}::text || '.' || ${eventDigest} from ${orderEvents} order by ${orderEvents.id} desc limit 1)`;

type LogBounds = { prunedThrough: string; last: string; head: ResumeId; anchor: string | null };

/**
 * The pruned end and the last position: the newest visible event, or the pruned end if that
 * is later (every event pruned), "0" for a log that never had one. `head` is the last
 * position as a resume id (with its event's digest, when it is an event); `anchor` the
 * digest of the event at `after`, if `after` names one.
 */
async function logBounds(db: Executor, after: ParsedResumeId | null = null): Promise<LogBounds> {
  const [row] = await executePrepared<{ prunedThrough: string; last: string; newest: string | null; anchor: string | null }>(db, sql`
    select ${prunedEnd}::text as "prunedThrough",
           greatest(${prunedEnd}, (select max(${orderEvents.id}) from ${orderEvents}))::text as "last",
           ${newestEvent} as "newest",
           ${anchorColumn(after)} as "anchor"`);
  const { prunedThrough, last, newest, anchor } = row!;
  return { prunedThrough, last, anchor, head: newest !== null && positionOf(newest) === last ? newest : last };
}

/**
 * Whether the event a reader saw at `after` is still the one the log holds there, given the
 * digest the log has there (null: no event). A plain position names no event and holds. One
 * exactly at the pruned end cannot be checked (its event was pruned, and every later one is
 * still there): it holds too, as it did before resume ids carried digests.
 */
function anchorHolds(after: ParsedResumeId, anchor: string | null, prunedThrough: string): boolean {
  return after.digest === null || anchor === after.digest || (anchor === null && after.position === prunedThrough);
}

/** What a page query saw of the log in the same statement, from its first row. */
type PageSaw = { prunedThrough: string; anchor: string | null };

/**
 * Checks a page read after `after` (null: from the pruned end) against what the same
 * statement saw (`saw`, from its first row; undefined for an empty page); returns where the
 * page started. A page with events cannot be ahead of the log. An empty one carries no
 * bounds, and one whose anchor does not hold is looked at again, so the bounds are read
 * next: bounds only grow, so if they show no gap after the read, the read had none either.
 */
async function checkPage(db: Executor, after: ParsedResumeId | null, saw: PageSaw | undefined): Promise<string> {
  if (saw !== undefined) {
    if (after === null) return saw.prunedThrough;
    if (!isAfter(saw.prunedThrough, after.position) && anchorHolds(after, saw.anchor, saw.prunedThrough)) return after.position;
  }
  const bounds = await logBounds(db, after);
  if (after === null) return bounds.prunedThrough;
  const gap = (reason: LogGapError['reason']) =>
    new LogGapError(after.position, reason, bounds.prunedThrough, bounds.last, bounds.head);
  if (isAfter(bounds.prunedThrough, after.position)) throw gap('pruned');
  if (isAfter(after.position, bounds.last)) throw gap('ahead');
  if (!anchorHolds(after, bounds.anchor, bounds.prunedThrough)) throw gap('diverged');
  return after.position;
}

/**
 * The events after `after` that `filter` matches, matched in SQL the way `matchesFilter`
 * matches live events (status: the order's status after the change). `after` may be SQL,
 * for "after the pruned part" read in the same statement.
 */
function afterMatching(after: string | SQL, filter: EventFilter) {
  return and(
    gt(orderEvents.id, typeof after === 'string' ? BigInt(after) : after),
    filter.orderId === undefined ? undefined : eq(orderEvents.orderId, BigInt(filter.orderId)),
    filter.status === undefined ? undefined : sql`${orderEvents.order}->>'status' = ${filter.status}`,
  );
}

/** A page of the log and where it started: `after`, or the end of the pruned part. */
export type LogPage<T> = { events: T[]; after: string };

/**
 * Events after `after` (a resume id; null: the oldest the log still holds) that match
 * `filter`, in position order, at most `limit`. One query per page, the pruned end included;
 * a position the log cannot serve without a gap throws LogGapError.
 */
export async function readLogPage(
  db: Executor,
  after: ResumeId | null,
  limit: number,
  filter: EventFilter = {},
): Promise<LogPage<OrderEvent>> {
  const e = orderEvents;
  const from = after === null ? null : parseResumeId(after);
  const rows = await db
    .select({ prunedThrough: prunedThroughColumn, anchor: anchorColumn(from), event: e })
    .from(e)
    .where(afterMatching(from?.position ?? prunedEnd, filter))
    .orderBy(asc(e.id))
    .limit(limit);
  const start = await checkPage(db, from, rows[0]);
  return { events: rows.map((r) => toOrderEvent(r.event)), after: start };
}

/** `readLogPage`'s events after a resume id. */
export async function readEventsAfter(db: Executor, after: ResumeId, limit: number, filter: EventFilter = {}): Promise<OrderEvent[]> {
  return (await readLogPage(db, after, limit, filter)).events;
}

/**
 * The log's last position: its newest visible event, or the end of the pruned part if that
 * is later (every event pruned), "0" for a log that never had one.
 */
export async function lastEventPosition(db: Executor): Promise<string> {
  return (await logBounds(db)).last;
}

/**
 * The log's last position, and the same as a resume id that names its event (a plain
 * position when there is none: an empty log, or every event pruned): where to subscribe
 * from to see every change after now, and be told if the log's history changes under it.
 */
export async function logHead(db: Executor): Promise<{ position: string; resumeId: ResumeId }> {
  const { last, head } = await logBounds(db);
  return { position: last, resumeId: head };
}

// JavaScript's toISOString(), as order_json() in the trigger migration writes it.
const ISO_FORMAT = sql.raw(`'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`);

/**
 * `readEventsAfter`, with each event as JSON made by PostgreSQL, in the shape of
 * `toOrderEvent`, and its digest: what subscribers are sent, since they only pass events on.
 * The same bounds check: a gap throws LogGapError, also when a prune overtakes a replay in
 * progress, and so does an `after` whose event is no longer the one the reader saw.
 */
export async function readEventJsonAfter(
  db: Executor,
  after: ResumeId,
  limit: number,
  filter: EventFilter = {},
): Promise<LoggedEvent[]> {
  const e = orderEvents;
  const from = parseResumeId(after);
  // Rows as the driver returns them: drizzle's select would map every field of every row
  // (a third of a flooded server's time went to that), and these are text already.
  const rows = await executePrepared<{ prunedThrough: string; anchor: string | null; id: string; digest: string; at: string; json: string }>(db, sql`
    select ${prunedThroughColumn} as "prunedThrough",
           ${anchorColumn(from)} as "anchor",
           ${e.id}::text as "id",
           ${eventDigest} as "digest",
           t.at as "at",
           -- Concatenated rather than json_build_object(): 1.7 times the rows per second of
           -- database time, and compact. Strings go through to_json() for their escaping;
           -- ids are digits; "order" and "changes" are jsonb already.
           '{"id":"' || ${e.id} || '","type":' || to_json(${e.type})::text || ',"orderId":"' || ${e.orderId}
             || '","order":' || ${e.order}::text || ',"actor":' || to_json(${e.actor})::text
             || ',"at":"' || t.at || '"'
             || coalesce(',"changes":' || ${e.changes}::text, '') || '}' as "json"
    -- \`at\` also on its own: the listener's publish-delay metric reads it, and would
    -- otherwise parse every event's JSON for it.
    from ${e} cross join lateral (select to_char(${e.at} at time zone 'UTC', ${ISO_FORMAT}) as at) t
    where ${afterMatching(from.position, filter)}
    order by ${e.id}
    limit ${limit}`);
  await checkPage(db, from, rows[0]);
  return rows.map((r) => new LoggedEvent(r.id, r.json, r.digest, r.at));
}

/**
 * Every event of one order the log still holds, oldest first. Pruning takes the log's start,
 * so a history either starts with 'created' or lost its beginning: then the first event
 * says so (`earlierPruned`).
 */
export async function orderHistory(db: Executor, orderId: string): Promise<HistoryEvent[]> {
  const rows = await db
    .select()
    .from(orderEvents)
    .where(eq(orderEvents.orderId, BigInt(orderId)))
    .orderBy(asc(orderEvents.id));
  const events: HistoryEvent[] = rows.map(toOrderEvent);
  if (events[0] && events[0].type !== 'created') events[0].earlierPruned = true;
  return events;
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
