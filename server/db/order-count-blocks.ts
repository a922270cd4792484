import { sql, type SQL } from 'drizzle-orm';
import type { OrderStatus } from '../../shared/order-status.ts';
import type { Executor } from './client.ts';

/**
 * Positions per block (drizzle/0008_order_count_blocks.sql: a row's meaning depends on it;
 * the functions below take another size only so that a test can cut a small log in blocks).
 */
export const COUNT_BLOCK_SIZE = 10_000n;

/** A net move of one status's count. */
export type StatusMove = { status: OrderStatus; count: number };

/**
 * The net move of each status's count over the events `where` selects (`e` is
 * order_events), as countMoves (shared/order-counts.ts) says, in SQL: 'created' enters its
 * status, 'deleted' leaves its last one, 'updated' leaves `changes.status.from` for `.to`.
 */
const movesOf = (where: SQL) => sql`
  select k.status, sum(k.delta)::int as count
    from order_events e
    cross join lateral (values
      (case e.type when 'created' then e."order"->>'status' when 'updated' then e.changes->'status'->>'to' end, 1),
      (case e.type when 'deleted' then e."order"->>'status' when 'updated' then e.changes->'status'->>'from' end, -1)
    ) as k(status, delta)
   where (${where}) and k.status is not null
   group by k.status`;

/**
 * Stores the moves of every block (at most `limit`) inside (after, through] that is not stored yet and that
 * the log has passed (its last position is at or below the log's last, so no event can
 * appear in it) and still holds whole (nothing of it pruned). One statement of its own, run
 * before the read that uses the blocks: a reader's snapshot is read-only. Concurrent callers
 * compute the same rows; the first one in wins. Returns how many it stored.
 */
export async function storeCountBlocks(
  db: Executor,
  after: string,
  through: string,
  { size = COUNT_BLOCK_SIZE, limit }: { size?: bigint; limit?: number } = {},
): Promise<number> {
  const first = (BigInt(after) + size - 1n) / size;
  const last = BigInt(through) / size - 1n;
  if (last < first) return 0;
  const stored = await db.execute(sql`
    insert into order_count_blocks (block, moves)
    select b.block,
           coalesce((select jsonb_object_agg(m.status, m.count) filter (where m.count <> 0)
                       from (${movesOf(sql`e.id > b.block * ${size} and e.id <= (b.block + 1) * ${size}`)}) m), '{}')
      from generate_series(${first}::bigint, ${last}::bigint) as b(block)
     where not exists (select 1 from order_count_blocks c where c.block = b.block)
       and (b.block + 1) * ${size} <= (select max(id) from order_events)
       and b.block * ${size} >= (select through from order_events_pruned)
     ${limit === undefined ? sql`` : sql`limit ${limit}`}
    on conflict (block) do nothing`);
  return stored.count;
}

/**
 * The net moves of the events in (after, through]: the stored blocks inside it, and the log
 * for the rest (at most a block's worth at each end, when the blocks are stored).
 */
export async function movesBetween(db: Executor, after: string, through: string, size = COUNT_BLOCK_SIZE): Promise<StatusMove[]> {
  const from = BigInt(after);
  const to = BigInt(through);
  if (to <= from) return [];
  const blocks = await db.execute<{ block: string; moves: Record<string, number> }>(sql`
    select b.block::text as block, b.moves from order_count_blocks b
     where b.block * ${size} >= ${from} and (b.block + 1) * ${size} <= ${to}
     order by b.block`);
  const moves = new Map<OrderStatus, number>();
  const add = (status: OrderStatus, count: number) => moves.set(status, (moves.get(status) ?? 0) + count);
  // The stretches no stored block covers are read from the log.
  const gaps: SQL[] = [];
  let covered = from;
  for (const b of blocks) {
    const start = BigInt(b.block) * size;
    if (start > covered) gaps.push(sql`(e.id > ${covered} and e.id <= ${start})`);
    covered = start + size;
    for (const [status, count] of Object.entries(b.moves)) add(status as OrderStatus, count);
  }
  if (to > covered) gaps.push(sql`(e.id > ${covered} and e.id <= ${to})`);
  if (gaps.length > 0) {
    for (const m of await db.execute<StatusMove>(movesOf(sql.join(gaps, sql` or `)))) add(m.status, Number(m.count));
  }
  return [...moves].map(([status, count]) => ({ status, count }));
}
