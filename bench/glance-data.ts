import type postgres from 'postgres';
import { ORDER_STATUSES } from '../shared/order-status.ts';

export type GlanceData = {
  orders: number;
  /** events left in the log (after the pruned first round) */
  events: number;
  /** the pruned end: the oldest position time travel reaches */
  floor: number;
  last: number;
};

/**
 * Builds, in SQL alone (generate_series, no API), a shop of `orders` orders whose log holds
 * `rounds` events per order after a pruned first round: each order created (round 0), then
 * its status moved on once per round, round-robin over the orders, stamped evenly over the
 * last ten days (so the last hour and day hold their share). The first round (the creates) is
 * pruned as the pruner would leave it: gone from the log, kept in the log's base. The rows,
 * events and base are exactly what the triggers and the pruner would have written (the same
 * JSON as order_json()), so every query reads what it would read in production.
 */
export async function buildGlanceData(sql: postgres.Sql, orders: number, rounds: number): Promise<GlanceData> {
  const total = orders * (rounds + 1);
  const statuses = sql.array([...ORDER_STATUSES]);
  await sql.begin(async (tx) => {
    // The user triggers (version, events) would write what we write here ourselves, one row at a time.
    await tx`alter table orders disable trigger user`;
    await tx`create temp table glance_times on commit drop as
             select date_trunc('milliseconds', now() - interval '10 days') as t0,
                    (interval '10 days' - interval '1 minute') / ${total}::int as step`;
    // Position p = r * orders + k: round r of order k; its status is statuses[(k + r) % 5].
    await tx`
      insert into order_events (id, type, order_id, "order", changes, actor, at)
      select p, case when r = 0 then 'created' else 'updated' end::order_event_type, k,
             jsonb_build_object(
               'id', k::text, 'customerName', 'customer ' || k, 'productName', 'product ' || (k % 500),
               'status', (${statuses}::text[])[(k + r) % 5 + 1], 'version', r + 1,
               'createdAt', to_char(date_trunc('milliseconds', t0 + k * step) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'updatedAt', to_char(date_trunc('milliseconds', t0 + p * step) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
             case when r > 0 then jsonb_build_object('status', jsonb_build_object(
               'from', (${statuses}::text[])[(k + r - 1) % 5 + 1], 'to', (${statuses}::text[])[(k + r) % 5 + 1])) end,
             'bench', date_trunc('milliseconds', t0 + p * step)
        from glance_times, generate_series(0, ${rounds}) r, generate_series(1, ${orders}) k,
             lateral (select r::bigint * ${orders} + k as p) pos
       order by p`;
    await tx`
      insert into orders (id, customer_name, product_name, status, version, created_at, updated_at) overriding system value
      select k, 'customer ' || k, 'product ' || (k % 500), (${statuses}::text[])[(k + ${rounds}) % 5 + 1]::order_status, ${rounds} + 1,
             date_trunc('milliseconds', t0 + k * step), date_trunc('milliseconds', t0 + (${rounds}::bigint * ${orders} + k) * step)
        from glance_times, generate_series(1, ${orders}) k`;
    await tx`alter table orders enable trigger user`;
    await tx`select setval(pg_get_serial_sequence('orders', 'id'), ${orders})`;
    await tx`select setval('order_events_id_seq', ${total})`;
    await tx`update order_events_head set last = ${total}`;
    // The pruner's work on the first round: the base at `orders`, the events up to it gone.
    await tx`insert into order_log_base (order_id, "order") select order_id, "order" from order_events where id <= ${orders}`;
    await tx`delete from order_events where id <= ${orders}`;
    await tx`update order_events_pruned set through = ${orders}, base_at = ${orders}`;
  });
  await sql`vacuum analyze orders, order_events, order_log_base`;
  return { orders, events: total - orders, floor: orders, last: total };
}
