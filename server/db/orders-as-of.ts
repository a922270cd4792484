import { sql } from 'drizzle-orm';
import type { OrderStatus } from '../../shared/order-status.ts';
import type { Order } from '../../shared/orders.ts';
import type { Executor } from './client.ts';
import { formatResumeId } from '../../shared/resume-id.ts';
import { digestAt } from './event-digest.ts';
import type { OrderPage } from './orders.ts';
import { asOfOutOfRange, baseAt, logEnd } from './time-travel.ts';

/**
 * Most orders one page may look at. A status filter that matches few orders at `asOf` would
 * otherwise read every order ever made for one page; past this many the page ends early
 * (fewer than `limit` orders, possibly none) with a `nextCursor` to go on from.
 */
export const AS_OF_SCAN_LIMIT = 20_000;

/**
 * A page of the orders as they were right after position `asOf`, by id, computed from the
 * log: each order's last event up to `asOf` (none, or 'deleted': absent then), or, for an
 * order with no event kept since the log's base, its state in the base
 * (drizzle/0007_order_log_base.sql). An id deleted and created again is whichever it was at
 * `asOf`.
 *
 * One statement: it walks the order ids after the cursor in order (every id the log or the
 * base knows, one index probe each, a recursive query that stops at `limit` + 1 matches),
 * and for each takes its last event up to `asOf` (one backward probe of
 * `order_events_order_id_id_idx`). So a page costs a few probes per order it looks at,
 * whatever the depth of `asOf`: no replay, no sort of the log. The bounds are read in the same
 * statement; outside them the answer is PRECONDITION_FAILED.
 */
export async function listOrdersAsOf(
  db: Executor,
  opts: { asOf: string; status?: OrderStatus; limit: number; cursor?: string },
): Promise<OrderPage> {
  const asOf = BigInt(opts.asOf);
  const rows = await db.execute<{ floor: string; last: string; id: string | null; n: number | null; order: Order | null; digest: string | null }>(sql`
    with recursive bounds as (
      select ${baseAt} as floor, ${logEnd} as last
    ), walk(order_id, n, found, state) as (
      select ${BigInt(opts.cursor ?? '0')}::bigint, 0, 0, null::jsonb
        from bounds where ${asOf} between bounds.floor and bounds.last
      union all
      select c.order_id, w.n + 1, w.found + (s.state is not null)::int, s.state
        from walk w
        cross join lateral (
          select least((select min(e.order_id) from order_events e where e.order_id > w.order_id),
                       (select min(x.order_id) from order_log_base x where x.order_id > w.order_id)) as order_id
          -- OFFSET 0 keeps the planner from copying this into each use below (4 times the probes).
          offset 0
        ) c
        cross join lateral (
          -- jsonb 'null' marks "deleted at asOf", so that the base is asked only when the log
          -- holds no event of the order in (base, asOf].
          select nullif(coalesce(
                   (select case when e.type = 'deleted' then 'null'::jsonb else e."order" end
                      from order_events e
                     where e.order_id = c.order_id and e.id > (select floor from bounds) and e.id <= ${asOf}
                     order by e.id desc limit 1),
                   (select x."order" from order_log_base x where x.order_id = c.order_id)),
                 'null'::jsonb) as state
          offset 0
        ) o
        cross join lateral (
          select case when ${opts.status ?? null}::text is null or o.state->>'status' = ${opts.status ?? null}::text
                      then o.state end as state
        ) s
       where c.order_id is not null and w.found <= ${opts.limit} and w.n < ${AS_OF_SCAN_LIMIT}
    )
    select b.floor::text as "floor", b.last::text as "last", w.order_id::text as "id", w.n, w.state as "order",
           ${digestAt(asOf)} as "digest"
      from bounds b
      left join walk w on w.n > 0 and (w.state is not null or w.n = (select max(n) from walk))
     order by w.n`);
  const first = rows[0]!;
  const refused = asOfOutOfRange(opts.asOf, first);
  if (refused) throw refused;
  const matches = rows.filter((r) => r.order !== null).map((r) => r.order!);
  const lastRow = rows.at(-1)!;
  let nextCursor: string | null = null;
  if (matches.length > opts.limit) nextCursor = matches[opts.limit - 1]!.id;
  else if (lastRow.n !== null && lastRow.n >= AS_OF_SCAN_LIMIT) nextCursor = lastRow.id;
  return {
    orders: matches.slice(0, opts.limit),
    nextCursor,
    lastEventId: opts.asOf,
    resumeId: formatResumeId(opts.asOf, first.digest),
  };
}
