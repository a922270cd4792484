import { sql } from 'drizzle-orm';
import type { Executor } from './client.ts';
import { asOfOutOfRange, baseAt, logEnd } from './time-travel.ts';

/**
 * The position of the log at time `at`: right before the first event stamped after `at`;
 * the log's last position if none is. What `orders.list({ asOf })` shows for it is the orders
 * as they were at that moment.
 *
 * Found by bisecting positions (one primary-key probe a step, about 20 for a million events),
 * which takes events to be stamped in position order. In commit ordering they are (`at` is
 * taken at commit, under the position lock), unless the database's clock stepped back; in
 * sequenced ordering an event is stamped when it is appended and positioned a few
 * milliseconds later, so around `at` the answer may be a few milliseconds off. An index on
 * `at` would not make it exact either: no position then splits the log into "before" and
 * "after".
 *
 * Before the oldest position the log can rebuild: PRECONDITION_FAILED, as for `asOf`; so is a
 * time before the first event kept after a pruned start, since the pruned events' times are
 * gone with them.
 */
export async function positionAt(db: Executor, at: Date): Promise<{ position: string }> {
  const time = sql`${at.toISOString()}::timestamptz`;
  // Invariant: every event at or below `lo` is stamped at or before `at`, every one at or
  // above `hi` after it; the step probes the first event in the middle of (lo, hi).
  const [row] = await db.execute<{ position: string; floor: string; last: string }>(sql`
    with recursive bounds as (
      select ${baseAt} as floor, ${logEnd} as last
    ), search(lo, hi) as (
      select floor, last + 1 from bounds
      union all
      select case when p.at <= ${time} then p.id else s.lo end,
             case when p.at <= ${time} then s.hi else m.mid end
        from search s
        cross join lateral (select (s.lo + s.hi) / 2 as mid) m
        left join lateral (
          select e.id, e.at from order_events e where e.id >= m.mid and e.id < s.hi order by e.id limit 1
        ) p on true
       where s.hi - s.lo > 1
    )
    select (min(hi) - 1)::text as position, (select floor from bounds)::text as floor, (select last from bounds)::text as last
      from search`);
  const { position, floor, last } = row!;
  // At the pruned end itself the time of its (pruned) event is unknown: `at` may be before it.
  const known = position === floor && floor !== '0' ? (BigInt(floor) - 1n).toString() : position;
  const refused = asOfOutOfRange(known, { floor, last }, at.toISOString());
  if (refused) throw refused;
  return { position };
}
