import type postgres from 'postgres';
import type { Order } from '../../shared/orders.ts';

/** The orders table read straight from the database, in the API's shape, by id. */
export async function tableRows(sql: postgres.Sql): Promise<Order[]> {
  const rows = await sql<Array<{ id: string; customer_name: string; product_name: string; status: Order['status']; version: number; created_at: Date; updated_at: Date }>>`
    select id::text, customer_name, product_name, status, version, created_at, updated_at from orders order by orders.id`;
  return rows.map((r) => ({
    id: r.id,
    customerName: r.customer_name,
    productName: r.product_name,
    status: r.status,
    version: r.version,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  }));
}
