import { sql } from 'drizzle-orm';
import type { Executor } from './client.ts';
import { asOfOutOfRange, baseAt, logEnd } from './time-travel.ts';

/**
 * The position of the log at time `at`: the end of the longest start of the log whose every
 * event happened at or before `at` (by the events' `at`), i.e. right before the first event
 * after `at`; the log's last position if none is after it. What `orders.list({ asOf })`
 * shows for it is the orders as they were at that moment. (Events are stamped as they are
 * positioned in commit ordering; in sequenced ordering as they are appended, a few
 * milliseconds earlier, so there an event can be stamped before one positioned ahead of it,
 * and this is the moment before the first of those that is after `at`.)
 *
 * Before the oldest position the log can rebuild: PRECONDITION_FAILED, as for `asOf`.
 */
export async function positionAt(db: Executor, at: Date): Promise<{ position: string }> {
  const [row] = await db.execute<{ firstAfter: string | null; floor: string; last: string }>(sql`
    select (select id from order_events where at > ${at.toISOString()}::timestamptz order by id limit 1)::text as "firstAfter",
           ${baseAt}::text as "floor", ${logEnd}::text as "last"`);
  const { firstAfter, floor, last } = row!;
  const position = firstAfter === null ? last : (BigInt(firstAfter) - 1n).toString();
  const refused = asOfOutOfRange(position, { floor, last }, `${at.toISOString()} (position ${position})`);
  if (refused) throw refused;
  return { position };
}
