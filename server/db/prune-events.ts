import { sql } from 'drizzle-orm';
import type { Database, Transaction } from './client.ts';

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
 * raises `order_events_pruned.through` to the last one deleted, in one transaction (readers
 * see both or neither; see LogGapError in events.ts). Before deleting, the same transaction
 * moves the log's base (`order_log_base`, drizzle/0007_order_log_base.sql) up to that
 * position with the events about to go, so time travel still finds every order.
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
    const [found] = await tx.execute<{ bound: string | null }>(sql`
      with head as (
        select id, at from order_events order by id limit ${batchSize}
      )
      select max(id)::text as bound from head
       where id < coalesce((select min(id) from head
                             where at >= clock_timestamp() - make_interval(secs => ${retentionMs / 1000})),
                           9223372036854775807)`);
    const bound = found?.bound ?? null;
    if (bound !== null) await moveLogBase(tx, bound);
    const [row] = await tx.execute<{ deleted: string; through: string }>(sql`
      with gone as (
        delete from order_events where id <= ${bound}::bigint returning id
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

/**
 * Moves the log's base from `base_at` up to `bound`: each order's last event in between
 * replaces its base state (a 'deleted' removes it). A no-op when the base is there already.
 */
async function moveLogBase(tx: Transaction, bound: string): Promise<void> {
  await tx.execute(sql`
    with latest as (
      select distinct on (order_id) order_id, type, "order" from order_events
       where id > (select base_at from order_events_pruned) and id <= ${bound}::bigint
       order by order_id, id desc
    ), removed as (
      delete from order_log_base b using latest l where b.order_id = l.order_id and l.type = 'deleted'
    ), kept as (
      insert into order_log_base (order_id, "order")
      select order_id, "order" from latest where type <> 'deleted'
      on conflict (order_id) do update set "order" = excluded."order"
    )
    update order_events_pruned set base_at = greatest(base_at, ${bound}::bigint)`);
}
