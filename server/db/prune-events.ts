import { sql } from 'drizzle-orm';
import type { Database } from './client.ts';

// Any fixed key; the same in every server process, so one node prunes at a time.
const PRUNE_LOCK_KEY = 7305861045390213n;

export type PruneBatch = {
  /** events deleted by this batch */
  deleted: number;
  /** the end of the pruned part of the log after it */
  prunedThrough: string;
  /** false when another node holds the prune lock and nothing was tried */
  ran: boolean;
};

/**
 * Deletes at most `batchSize` events older than `retentionMs` from the start of the log, and
 * raises `order_events_pruned.through` to the last one deleted, in one statement (so one
 * transaction: readers see both or neither; see LogGapError in events.ts).
 *
 * Only a prefix of the log is ever deleted: the first `batchSize` events by position, up to
 * (not including) the first of them that is still young. `at` is taken at commit, in
 * position order, but a clock can step back; a prefix keeps "everything at or below
 * `through` is gone, everything above it is kept" true whatever the clock did. The age is
 * measured on the database's clock, the one that wrote `at`.
 */
export async function pruneEventBatch(db: Database, retentionMs: number, batchSize: number): Promise<PruneBatch> {
  return db.transaction(async (tx) => {
    const [lock] = await tx.execute<{ locked: boolean }>(sql`select pg_try_advisory_xact_lock(${PRUNE_LOCK_KEY.toString()}::bigint) as locked`);
    if (!lock?.locked) return { deleted: 0, prunedThrough: '0', ran: false };
    const [row] = await tx.execute<{ deleted: string; through: string }>(sql`
      with head as (
        select id, at from order_events order by id limit ${batchSize}
      ), bound as (
        select max(id) as id from head
         where id < coalesce((select min(id) from head
                               where at >= clock_timestamp() - make_interval(secs => ${retentionMs / 1000})),
                             9223372036854775807)
      ), gone as (
        delete from order_events where id <= (select id from bound) returning id
      ), raised as (
        update order_events_pruned set through = greatest(through, (select max(id) from gone))
         where exists (select 1 from gone)
        returning through
      )
      select (select count(*) from gone)::text as deleted,
             coalesce((select through from raised), (select through from order_events_pruned))::text as through`);
    return { deleted: Number(row?.deleted ?? 0), prunedThrough: row?.through ?? '0', ran: true };
  });
}
