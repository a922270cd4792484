import { sql } from 'drizzle-orm';
import { zeroCounts, totalOf, type OrderCounts, type StatusCounts } from '../../shared/order-counts.ts';
import { ORDER_STATUSES, type OrderStatus } from '../../shared/order-status.ts';
import type { Database, Executor } from './client.ts';
import { inLogSnapshot } from './log-snapshot.ts';
import { movesBetween, storeCountBlocks } from './order-count-blocks.ts';
import { asOfOutOfRange, timeTravelBounds } from './time-travel.ts';

/**
 * The orders per status, exact at `lastEventId`: `SELECT status, count(*)` in the snapshot
 * `orders.list` reads (log-snapshot.ts), so the counts plus the events after `lastEventId`
 * are the counts at any later position.
 *
 * With `asOf`, the counts right after that position: the same counts, in the same snapshot,
 * moved back by every event after `asOf` (each event says which status it entered and which
 * it left: shared/order-counts.ts). Exact whatever was pruned, since every event after a
 * position time travel accepts is still in the log; read mostly from stored blocks of moves
 * (order-count-blocks.ts), stored first if missing.
 */
export async function countOrders(db: Database, asOf?: string): Promise<OrderCounts> {
  if (asOf !== undefined) {
    const bounds = await timeTravelBounds(db);
    const refused = asOfOutOfRange(asOf, bounds);
    if (refused) throw refused;
    await storeCountBlocks(db, asOf, bounds.last);
  }
  return inLogSnapshot(db, async (tx, head) => {
    const counts = await countRows(tx);
    if (asOf === undefined) return withTotal(counts, head.position);
    // The bounds again, in the snapshot: a prune since the check may have passed asOf.
    const refused = asOfOutOfRange(asOf, await timeTravelBounds(tx));
    if (refused) throw refused;
    for (const m of await movesBetween(tx, asOf, head.position)) counts[m.status] -= m.count;
    return withTotal(counts, asOf);
  });
}

function withTotal(counts: StatusCounts, lastEventId: string): OrderCounts {
  return { counts, total: totalOf(counts), lastEventId };
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
