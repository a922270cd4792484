import { describe, expect, vi } from 'vitest';
import WebSocket from 'ws';
import { createLiveOrders, type LiveOrders, type Order, type OrderEvent, type Transport } from 'live-orders/client';
import { test } from './support/server.ts';

const Ws = WebSocket as unknown as typeof globalThis.WebSocket;

/** The orders table as the client's copy holds it. */
async function tableRows(sql: import('postgres').Sql): Promise<Order[]> {
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

const copyRows = (live: LiveOrders) => [...live.orders.values()].sort((a, b) => Number(a.id) - Number(b.id));

function recordChanges(live: LiveOrders): OrderEvent[] {
  const seen: OrderEvent[] = [];
  live.on('change', (event) => seen.push(event));
  return seen;
}

describe.each<Transport>(['websocket'])('the client library over %s', (transport) => {
  test('loads the snapshot in pages, then applies every change once, live', async ({ server }) => {
    const writer = server.client();
    await server.sql`insert into orders (customer_name, product_name) select 'C' || i, 'P' from generate_series(1, 1500) i`;
    const live = createLiveOrders({ url: server.url, transport, WebSocket: Ws });
    const seen = recordChanges(live);
    const states: string[] = [];
    live.on('state', (s) => states.push(s));
    await live.ready;
    expect(live.orders.size).toBe(1500);
    const snapshotAt = live.lastEventId!;

    const created = await writer.orders.create.mutate({ customerName: 'Ada', productName: 'Loom' });
    await writer.orders.update.mutate({ id: created.id, status: 'shipped' });
    await server.sql`delete from orders where id in (select id from orders order by id limit 10)`;
    const log = await server.logAfter(snapshotAt);
    await vi.waitFor(() => expect(seen.map((e) => e.id)).toEqual(log.map((e) => e.id)), { timeout: 10_000, interval: 20 });
    expect(copyRows(live)).toEqual(await tableRows(server.sql));
    expect(live.state).toBe('live');
    expect(states[0]).toBe('live');
    await live.close();
    expect(live.state).toBe('offline');
  });
});
