import { sql } from 'drizzle-orm';
import { FLOW_BUCKETS, type Flow, type FlowBucket, type FlowBucketSize } from '../../shared/order-flow.ts';
import type { Executor } from './client.ts';
import { asOfOutOfRange, logEnd, timeTravelBounds } from './time-travel.ts';

// JavaScript's toISOString(), as order_json() writes it.
const ISO_FORMAT = sql.raw(`'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`);

/**
 * The flow (shared/order-flow.ts) per bucket over the last hour (minutes) or day (hours),
 * by the events' `at` on the database's clock, buckets cut in UTC. One statement: the buckets
 * hold exactly the events up to `lastEventId` (a statement sees a prefix of the log), so a
 * client adds the events after it and counts each change once. The time range is found with
 * `order_events_at_brin`: only the log's last block ranges are read.
 *
 * With `asOf`, the flow as it was right after that position: the hour (or day) up to the
 * bucket of that position's last event, counting the events up to it only. Positions up to
 * the log's last never change, so the moment read first and the buckets read next agree.
 */
export async function readFlow(db: Executor, bucket: FlowBucketSize, asOf?: string): Promise<Flow> {
  const { ms, count } = FLOW_BUCKETS[bucket];
  // Fixed per bucket size, so written into the statement rather than sent as parameters.
  const unit = sql.raw(`'${bucket}'`);
  const size = sql.raw(`interval '${ms / 1000} seconds'`);
  const window = sql.raw(`interval '${(count * ms) / 1000} seconds'`);
  // now() (or the moment, as a parameter) in the statement itself, not through a subquery: the
  // planner estimates the window's rows from it (a subquery's value it cannot see, and guessed a
  // third of the log: a parallel plan, JIT-compiled, 8 times slower than reading the window).
  const moment = asOf === undefined ? sql`now()` : sql`${(await momentOf(db, asOf)).toISOString()}::timestamptz`;
  const upTo = asOf === undefined ? sql`` : sql`and e.id <= ${BigInt(asOf)}`;
  const end = sql`(date_trunc(${unit}, ${moment}, 'UTC') + ${size})`;
  // 'created' enters the order's status, 'updated' the status it changed to, if it did.
  const entered = sql`case e.type when 'created' then e."order"->>'status' when 'updated' then e.changes->'status'->>'to' end`;
  const rows = await db.execute<{ start: string | null; end: string; last: string; created: number; shipped: number; delivered: number; cancelled: number }>(sql`
    with counted as (
      select date_trunc(${unit}, e.at, 'UTC') as start,
             count(*) filter (where e.type = 'created')::int as created,
             count(*) filter (where ${entered} = 'shipped')::int as shipped,
             count(*) filter (where ${entered} = 'delivered')::int as delivered,
             count(*) filter (where ${entered} = 'cancelled')::int as cancelled
        from order_events e
       where e.at >= ${end} - ${window} ${upTo}
       group by 1
    )
    select to_char(c.start at time zone 'UTC', ${ISO_FORMAT}) as start,
           to_char(${end} at time zone 'UTC', ${ISO_FORMAT}) as "end",
           ${asOf === undefined ? logEnd : sql`${asOf}`}::text as "last",
           coalesce(c.created, 0) as created, coalesce(c.shipped, 0) as shipped,
           coalesce(c.delivered, 0) as delivered, coalesce(c.cancelled, 0) as cancelled
      from (select 1) as one left join counted c on true`);
  const endMs = new Date(rows[0]!.end).getTime();
  const byStart = new Map(rows.filter((r) => r.start !== null).map((r) => [r.start!, r]));
  const buckets: FlowBucket[] = [];
  for (let i = count; i >= 1; i--) {
    const start = new Date(endMs - i * ms).toISOString();
    const r = byStart.get(start);
    buckets.push({ start, created: r?.created ?? 0, shipped: r?.shipped ?? 0, delivered: r?.delivered ?? 0, cancelled: r?.cancelled ?? 0 });
  }
  return { bucket, buckets, end: rows[0]!.end, lastEventId: rows[0]!.last };
}

/**
 * When position `asOf` was: the time of its event, or of the last one before it that the log
 * holds; with none kept at or before it, of the first after it (the moment lies before that);
 * on an empty log, now. Outside the log's bounds: PRECONDITION_FAILED.
 */
async function momentOf(db: Executor, asOf: string): Promise<Date> {
  const refused = asOfOutOfRange(asOf, await timeTravelBounds(db));
  if (refused) throw refused;
  const [row] = await db.execute<{ ms: string }>(sql`
    select (extract(epoch from coalesce(
             (select at from order_events where id <= ${BigInt(asOf)} order by id desc limit 1),
             (select at from order_events where id > ${BigInt(asOf)} order by id limit 1),
             now())) * 1000)::bigint::text as ms`);
  return new Date(Number(row!.ms));
}
