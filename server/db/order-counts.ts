import { sql } from 'drizzle-orm';
import { zeroCounts, totalOf, type OrderCounts, type StatusCounts } from '../../shared/order-counts.ts';
import type { OrderStatus } from '../../shared/order-status.ts';
import type { Database, Executor } from './client.ts';
import { inLogSnapshot } from './log-snapshot.ts';
import { asOfOutOfRange, timeTravelBounds } from './time-travel.ts';

/**
 * The orders per status, exact at `lastEventId`: `SELECT status, count(*)` in the snapshot
 * `orders.list` reads (log-snapshot.ts), so the counts plus the events after `lastEventId`
 * are the counts at any later position.
 *
 * With `asOf`, the counts right after that position, from the same snapshot: the counts now
 * moved back by every event after `asOf` (each event says which status it entered and left:
 * shared/order-counts.ts), or the log's base counted and moved forward by the events up to
 * `asOf`, whichever reads fewer events.
 */
export async function countOrders(db: Database, asOf?: string): Promise<OrderCounts> {
  return inLogSnapshot(db, async (tx, head) => {
    if (asOf === undefined) return withTotal(await countRows(tx), head.position);
    const bounds = await timeTravelBounds(tx);
    const refused = asOfOutOfRange(asOf, bounds);
    if (refused) throw refused;
    const at = BigInt(asOf);
    if (at - BigInt(bounds.floor) < BigInt(head.position) - at) {
      const counts = await countBase(tx);
      addMoves(counts, await sumMoves(tx, bounds.floor, asOf), 1);
      return withTotal(counts, asOf);
    }
    const counts = await countRows(tx);
    addMoves(counts, await sumMoves(tx, asOf, head.position), -1);
    return withTotal(counts, asOf);
  });
}

function withTotal(counts: StatusCounts, lastEventId: string): OrderCounts {
  return { counts, total: totalOf(counts), lastEventId };
}

type StatusCount = { status: OrderStatus; count: number };

function toCounts(rows: StatusCount[]): StatusCounts {
  const counts = zeroCounts();
  for (const r of rows) counts[r.status] = Number(r.count);
  return counts;
}

async function countRows(tx: Executor): Promise<StatusCounts> {
  return toCounts(await tx.execute<StatusCount>(sql`select status::text as status, count(*)::int as count from orders group by status`));
}

async function countBase(tx: Executor): Promise<StatusCounts> {
  return toCounts(
    await tx.execute<StatusCount>(sql`select "order"->>'status' as status, count(*)::int as count from order_log_base group by 1`),
  );
}

function addMoves(counts: StatusCounts, moves: StatusCount[], sign: 1 | -1): void {
  for (const m of moves) counts[m.status] += sign * Number(m.count);
}

/**
 * The net move of each status's count over the events in (after, through]: as countMoves
 * (shared/order-counts.ts) says, in SQL, summed.
 */
async function sumMoves(tx: Executor, after: string, through: string): Promise<StatusCount[]> {
  return tx.execute<StatusCount>(sql`
    select k.status, sum(k.delta)::int as count
      from order_events e
      cross join lateral (values
        (case e.type when 'created' then e."order"->>'status' when 'updated' then e.changes->'status'->>'to' end, 1),
        (case e.type when 'deleted' then e."order"->>'status' when 'updated' then e.changes->'status'->>'from' end, -1)
      ) as k(status, delta)
     where e.id > ${BigInt(after)} and e.id <= ${BigInt(through)} and k.status is not null
     group by k.status`);
}
