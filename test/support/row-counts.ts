import type postgres from 'postgres';

/** How many orders and events the database holds: what "nothing was written" is checked against. */
export async function rowCounts(sql: postgres.Sql): Promise<{ orders: number; events: number }> {
  const [c] = await sql<[{ orders: number; events: number }]>`
    select (select count(*)::int from orders) as orders, (select count(*)::int from order_events) as events`;
  return c;
}
