import { TRPCError } from '@trpc/server';
import { sql } from 'drizzle-orm';
import type { Executor } from './client.ts';

/**
 * How far back time travel reaches, and where the log ends. `floor`: the log's base
 * (`order_events_pruned.base_at`, drizzle/0007_order_log_base.sql), never below the pruned
 * end; `last`: the log's last position. One SQL expression each, so a query can read them in
 * the statement that uses them (a prune between two statements cannot then mislead it).
 */
export const baseAt = sql`(select base_at from order_events_pruned)`;
export const logEnd = sql`greatest((select through from order_events_pruned), coalesce((select max(id) from order_events), 0))`;

export type TimeTravelBounds = { floor: string; last: string };

export async function timeTravelBounds(db: Executor): Promise<TimeTravelBounds> {
  const [row] = await db.execute<TimeTravelBounds>(sql`select ${baseAt}::text as "floor", ${logEnd}::text as "last"`);
  return row!;
}

/**
 * An `asOf` the log cannot answer: before the oldest position it can rebuild (pruned,
 * EVENT_RETENTION), or after its last one. PRECONDITION_FAILED, as for a resume from such
 * a position.
 */
export function asOfOutOfRange(asOf: string, { floor, last }: TimeTravelBounds, what = `asOf ${asOf}`): TRPCError | null {
  if (BigInt(asOf) < BigInt(floor)) {
    return new TRPCError({
      code: 'PRECONDITION_FAILED',
      message: `${what} is before the oldest position the log can rebuild, ${floor} (events up to it were pruned: EVENT_RETENTION); choose a position from ${floor} to ${last}`,
    });
  }
  if (BigInt(asOf) > BigInt(last)) {
    return new TRPCError({
      code: 'PRECONDITION_FAILED',
      message: `${what} is ahead of the log, which ends at ${last}; choose a position from ${floor} to ${last}`,
    });
  }
  return null;
}
