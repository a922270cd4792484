/**
 * Commits changes straight into `orders` (raw SQL writes are first-class: the trigger logs
 * and NOTIFYs them like API writes), so the fan-out figures measure fan-out, not the API's
 * write path. The time recorded per order id is taken right after COMMIT returns.
 */
import type postgres from 'postgres';
import { now } from './clock.ts';

export type SentTimes = Array<[number, number]>;

/** The newest position in the log: subscribing after it replays nothing. */
export async function currentPosition(sql: postgres.Sql): Promise<string> {
  const [row] = await sql<{ p: string }[]>`select coalesce(max(id), 0)::text as p from order_events`;
  return row!.p;
}

/** The id the next order will get at the least (identity values only grow). */
export async function nextOrderId(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ id: string }[]>`select coalesce(max(id), 0)::text as id from orders`;
  return Number(row!.id) + 1;
}

/** One order per transaction, `rate` per second on an absolute schedule, for `count` orders. */
export async function writeAtRate(sql: postgres.Sql, rate: number, count: number): Promise<SentTimes> {
  const sent: SentTimes = [];
  const start = now();
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / rate - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const [row] = await sql<{ id: string }[]>`insert into orders (customer_name, product_name) values ('Bench', ${`Rate ${i}`}) returning id`;
    sent.push([Number(row!.id), now()]);
  }
  return sent;
}

/** `count` orders as fast as one connection commits them, `perTransaction` per commit. */
export async function writeFlood(sql: postgres.Sql, count: number, perTransaction = 100): Promise<SentTimes> {
  const sent: SentTimes = [];
  for (let done = 0; done < count; ) {
    const n = Math.min(perTransaction, count - done);
    const rows = await sql<{ id: string }[]>`
      insert into orders (customer_name, product_name)
      select 'Bench', 'Flood ' || g from generate_series(1, ${n}::int) g
      returning id`;
    const at = now();
    for (const r of rows) sent.push([Number(r.id), at]);
    done += n;
  }
  return sent;
}
