import { sql } from 'drizzle-orm';
import { zeroCounts, totalOf, type OrderCounts, type StatusCounts } from '../../shared/order-counts.ts';
import { ORDER_STATUSES, type OrderStatus } from '../../shared/order-status.ts';
import type { Database, Executor } from './client.ts';
import { inLogSnapshot } from './log-snapshot.ts';
import { movesBetween, storeCountBlocks } from './order-count-blocks.ts';
import { asOfOutOfRange, timeTravelBounds } from './time-travel.ts';

/** Kept counts (`order_counts_at`) are at least this many positions apart. */
const KEPT_COUNTS_SPACING = 1_000n;

/**
 * The orders per status right after a position: the log's last (`lastEventId`), or `asOf`.
 * The same as `SELECT status, count(*)` in a snapshot holding exactly the events up to it, so
 * the counts plus the events after `lastEventId` are the counts at any later position.
 *
 * Computed from the log: the nearest kept counts at or before the position (`order_counts_at`,
 * drizzle/0009_order_counts_at.sql), moved by the events since (each says which status it
 * entered and left: shared/order-counts.ts; read mostly from stored blocks of moves,
 * order-count-blocks.ts). Positions up to the log's last are final (no event can appear
 * there any more), so this needs no snapshot: only that none of the events read was pruned,
 * checked after reading (the pruned end only rises). With nothing kept near enough, the
 * orders are counted in the snapshot `orders.list` reads (log-snapshot.ts), moved back to
 * the position, and kept for the next call.
 */
export async function countOrders(db: Database, asOf?: string): Promise<OrderCounts> {
  const bounds = await timeTravelBounds(db);
  if (asOf !== undefined) {
    const refused = asOfOutOfRange(asOf, bounds);
    if (refused) throw refused;
  }
  const at = asOf ?? bounds.last;
  const kept = await keptCountsBefore(db, at, bounds.floor);
  let counts = kept && (await moveForward(db, kept, at));
  if (!counts) counts = await countRowsAt(db, at);
  if (!kept || BigInt(at) - BigInt(kept.position) >= KEPT_COUNTS_SPACING) await keepCounts(db, at, counts);
  return { counts, total: totalOf(counts), lastEventId: at };
}

type KeptCounts = { position: string; counts: StatusCounts };

/** The kept counts nearest at or before `at`, not below the oldest position the log rebuilds. */
async function keptCountsBefore(db: Executor, at: string, floor: string): Promise<KeptCounts | null> {
  const [row] = await db.execute<{ position: string; counts: Record<string, number> }>(sql`
    select k.position::text as position, k.counts from order_counts_at k
     where k.position <= ${BigInt(at)} and k.position >= ${BigInt(floor)}
     order by k.position desc limit 1`);
  return row ? { position: row.position, counts: { ...zeroCounts(), ...row.counts } } : null;
}

/**
 * `kept` moved by the events up to `at`; null when a prune took some of them meanwhile
 * (then they are counted from the rows instead).
 */
async function moveForward(db: Executor, kept: KeptCounts, at: string): Promise<StatusCounts | null> {
  await storeCountBlocks(db, kept.position, at);
  const counts = { ...kept.counts };
  for (const m of await movesBetween(db, kept.position, at)) counts[m.status] += m.count;
  const { floor } = await timeTravelBounds(db);
  return BigInt(floor) <= BigInt(kept.position) ? counts : null;
}

/** The rows counted in a snapshot of the log's head, moved back to `at`. */
async function countRowsAt(db: Database, at: string): Promise<StatusCounts> {
  await storeCountBlocks(db, at, (await timeTravelBounds(db)).last);
  return inLogSnapshot(db, async (tx, head) => {
    // In the snapshot: a prune since the caller's check may have passed `at`.
    const refused = asOfOutOfRange(at, await timeTravelBounds(tx));
    if (refused) throw refused;
    const counts = await countRows(tx);
    for (const m of await movesBetween(tx, at, head.position)) counts[m.status] -= m.count;
    return counts;
  });
}

async function keepCounts(db: Executor, position: string, counts: StatusCounts): Promise<void> {
  await db.execute(sql`
    insert into order_counts_at (position, counts) values (${BigInt(position)}, ${JSON.stringify(counts)}::jsonb)
    on conflict (position) do nothing`);
}

// One count per status, from the one list of them.
const perStatus = sql.raw(ORDER_STATUSES.map((s) => `count(*) filter (where status = '${s}')::int as "${s}"`).join(', '));

/** Every order by status: one pass, no hashing (a GROUP BY took longer than the scan). */
async function countRows(tx: Executor): Promise<StatusCounts> {
  const [row] = await tx.execute<Record<OrderStatus, number>>(sql`select ${perStatus} from orders`);
  const counts = zeroCounts();
  for (const status of ORDER_STATUSES) counts[status] = Number(row![status]);
  return counts;
}
