import { TRPCClientError } from '@trpc/client';
import { expect } from 'vitest';
import { zeroCounts, type StatusCounts } from '../../shared/order-counts.ts';
import { ORDER_STATUSES, type OrderStatus } from '../../shared/order-status.ts';
import type { Order, OrderEvent } from '../../shared/orders.ts';
import type { Client, TestServer } from './server.ts';

export const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);

/** The orders right after `position`, replayed from the log as events.list gave it: the oracle. */
export function replay(log: OrderEvent[], position: string): Map<string, Order> {
  const orders = new Map<string, Order>();
  for (const e of log) {
    if (BigInt(e.id) > BigInt(position)) break;
    if (e.type === 'deleted') orders.delete(e.orderId);
    else orders.set(e.orderId, e.order);
  }
  return orders;
}

export function countsOf(orders: Iterable<Order>): StatusCounts {
  const counts = zeroCounts();
  for (const o of orders) counts[o.status]++;
  return counts;
}

export async function tableCounts(server: TestServer): Promise<StatusCounts> {
  const rows = await server.sql<{ status: OrderStatus; count: number }[]>`select status, count(*)::int as count from orders group by status`;
  const counts = zeroCounts();
  for (const r of rows) counts[r.status] = r.count;
  return counts;
}

/** Every page of orders.list({ asOf }), `limit` at a time. */
export async function listAllAsOf(client: Client, asOf: string, limit: number, status?: OrderStatus): Promise<Order[]> {
  const all: Order[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.orders.list.query({ asOf, limit, status, cursor });
    expect(page.lastEventId).toBe(asOf);
    all.push(...page.orders);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return all;
}

export const byId = (orders: Iterable<Order>) => [...orders].sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)));

/** A history with every kind of change, through the API and SQL, an id deleted and created again among them. */
export async function writeHistory(server: TestServer, client: Client): Promise<void> {
  const made = await client.orders.createMany.mutate({
    orders: ORDER_STATUSES.flatMap((status, n) => [
      { customerName: `A${n}`, productName: 'p', status },
      { customerName: `B${n}`, productName: 'q' },
    ]),
  });
  await client.orders.update.mutate({ id: made[1]!.id, status: 'shipped' });
  await client.orders.update.mutate({ id: made[1]!.id, status: 'delivered' });
  await client.orders.update.mutate({ id: made[3]!.id, customerName: 'Renamed' });
  await client.orders.delete.mutate({ id: made[5]!.id });
  await server.sql`update orders set status = 'cancelled' where id = ${made[7]!.id}`;
  await server.sql`delete from orders where id = ${made[9]!.id}`;
  // The same id again, as only SQL can.
  await server.sql`insert into orders (id, customer_name, product_name, status) overriding system value
                   values (${made[5]!.id}, 'Again', 'r', 'confirmed')`;
  await client.orders.update.mutate({ id: made[5]!.id, status: 'shipped' });
  await client.orders.create.mutate({ customerName: 'Late', productName: 's', status: 'cancelled' });
  await client.orders.delete.mutate({ id: made[0]!.id });
}
