import { TRPCClientError } from '@trpc/client';
import { describe, expect } from 'vitest';
import { createDatabase } from '../server/db/client.ts';
import { pruneEventBatch } from '../server/db/prune-events.ts';
import { applyCountMoves, totalOf, zeroCounts, type StatusCounts } from '../shared/order-counts.ts';
import { FLOW_BUCKETS, flowKindsOf, type FlowBucketSize } from '../shared/order-flow.ts';
import { ORDER_STATUSES, type OrderStatus } from '../shared/order-status.ts';
import type { Order, OrderEvent } from '../shared/orders.ts';
import { test, type Client, type TestServer } from './support/server.ts';

const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);

/** The orders right after `position`, replayed from the log as events.list gave it: the oracle. */
function replay(log: OrderEvent[], position: string): Map<string, Order> {
  const orders = new Map<string, Order>();
  for (const e of log) {
    if (BigInt(e.id) > BigInt(position)) break;
    if (e.type === 'deleted') orders.delete(e.orderId);
    else orders.set(e.orderId, e.order);
  }
  return orders;
}

function countsOf(orders: Iterable<Order>): StatusCounts {
  const counts = zeroCounts();
  for (const o of orders) counts[o.status]++;
  return counts;
}

async function tableCounts(server: TestServer): Promise<StatusCounts> {
  const rows = await server.sql<{ status: OrderStatus; count: number }[]>`select status, count(*)::int as count from orders group by status`;
  const counts = zeroCounts();
  for (const r of rows) counts[r.status] = r.count;
  return counts;
}

/** Every page of orders.list({ asOf }), `limit` at a time. */
async function listAllAsOf(client: Client, asOf: string, limit: number, status?: OrderStatus): Promise<Order[]> {
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

const byId = (orders: Iterable<Order>) => [...orders].sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)));

/** A history with every kind of change, through the API and SQL, an id deleted and created again among them. */
async function writeHistory(server: TestServer, client: Client): Promise<void> {
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

describe('orders.counts', () => {
  test('equals SELECT status, count(*) after a burst of concurrent API and SQL writes, and moves exactly by the events after it', async ({ server }) => {
    const client = server.client();
    const apiWriter = async (n: number) => {
      for (let i = 0; i < 15; i++) {
        const o = await client.orders.create.mutate({ customerName: `api ${n}.${i}`, productName: 'p' });
        if (i % 3 === 1) await client.orders.update.mutate({ id: o.id, status: ORDER_STATUSES[(n + i) % 5]! });
        if (i % 5 === 4) await client.orders.delete.mutate({ id: o.id });
      }
    };
    const sqlWriter = async (n: number) => {
      for (let i = 0; i < 15; i++) {
        const [o] = await server.sql<{ id: string }[]>`insert into orders (customer_name, product_name) values (${`sql ${n}.${i}`}, 'p') returning id::text`;
        if (i % 2 === 0) await server.sql`update orders set status = ${ORDER_STATUSES[(n + i) % 5]!} where id = ${o!.id}`;
        if (i % 7 === 6) await server.sql`delete from orders where id = ${o!.id}`;
      }
    };
    // Counts read while the writers run: each must be exact at its own position.
    const seen: Awaited<ReturnType<Client['orders']['counts']['query']>>[] = [];
    let writing = true;
    const reader = (async () => {
      while (writing) seen.push(await client.orders.counts.query());
    })();
    await Promise.all([apiWriter(0), apiWriter(1), sqlWriter(0), sqlWriter(1)]);
    writing = false;
    await reader;

    const now = await client.orders.counts.query();
    expect(now.counts).toEqual(await tableCounts(server));
    expect(now.total).toBe(totalOf(now.counts));
    expect(now.lastEventId).toBe((await client.events.head.query()).lastEventId);

    const log = await server.logAfter('0');
    expect(seen.length).toBeGreaterThan(0);
    for (const taken of [...seen, now]) {
      expect(taken.counts, `counts at ${taken.lastEventId}`).toEqual(countsOf(replay(log, taken.lastEventId).values()));
      // The counts then, moved by every event after them, are the counts now.
      const moved = { ...taken.counts };
      for (const e of log) if (BigInt(e.id) > BigInt(taken.lastEventId)) applyCountMoves(moved, e);
      expect(moved).toEqual(now.counts);
    }
  });
});

describe('events.positionAt', () => {
  test('events.positionAt maps a time to the position right before the first event after it', async ({ server }) => {
    const client = server.client();
    await writeHistory(server, client);
    const log = await server.logAfter('0');
    const middle = log[Math.floor(log.length / 2)]!;
    const expected = log.filter((e) => e.at <= middle.at).at(-1)!.id;
    expect(await client.events.positionAt.query({ at: middle.at })).toEqual({ position: expected });
    expect(await client.events.positionAt.query({ at: new Date(Date.parse(log.at(-1)!.at) + 60_000).toISOString() })).toEqual({ position: log.at(-1)!.id });
    const err = await client.events.positionAt.query({ at: 'nine this morning' }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe('BAD_REQUEST');
  });
});

describe('orders.flow', () => {
  for (const bucket of ['minute', 'hour'] as FlowBucketSize[]) {
    test(`per ${bucket}: the buckets agree with the events up to lastEventId`, async ({ server }) => {
      const client = server.client();
      await writeHistory(server, client);
      // Some of it an hour and a day ago, and older than the window.
      await server.sql`update order_events set at = at - interval '61 minutes' where id % 3 = 0`;
      await server.sql`update order_events set at = at - interval '25 hours' where id % 7 = 0`;
      const flow = await client.orders.flow.query({ bucket });
      const log = await server.logAfter('0');
      expect(flow.lastEventId).toBe(log.at(-1)!.id);
      const { ms, count } = FLOW_BUCKETS[bucket];
      const end = Date.parse(flow.end);
      expect(end % ms).toBe(0);
      expect(flow.buckets.map((b) => b.start)).toEqual(Array.from({ length: count }, (_, i) => new Date(end - (count - i) * ms).toISOString()));
      const expected = flow.buckets.map((b) => ({ start: b.start, created: 0, shipped: 0, delivered: 0, cancelled: 0 }));
      for (const e of log) {
        const i = Math.floor((Date.parse(e.at) - (end - count * ms)) / ms);
        if (i < 0 || i >= count) continue;
        for (const kind of flowKindsOf(e)) expected[i]![kind]++;
      }
      expect(flow.buckets).toEqual(expected);
      expect(flow.buckets.reduce((n, b) => n + b.created, 0)).toBeGreaterThan(0);
    });
  }
});

// Last: it prunes the log this file's server shares.
describe('time travel: orders.list and orders.counts with asOf', () => {
  test('every position shows exactly the rows the log says, paged, filtered, also after pruning; outside the log: PRECONDITION_FAILED', async ({ server }) => {
    const client = server.client();
    const start = (await client.events.head.query()).lastEventId;
    await writeHistory(server, client);
    const log = await server.logAfter('0');
    const head = log.at(-1)!.id;
    // Every position of this test's history (the file's earlier tests wrote the rest).
    const positions = [start, ...log.filter((e) => BigInt(e.id) > BigInt(start)).map((e) => e.id)];

    const check = async (position: string) => {
      const expected = byId(replay(log, position).values());
      expect(await listAllAsOf(client, position, 3), `asOf ${position}`).toEqual(expected);
      const counts = await client.orders.counts.query({ asOf: position });
      expect(counts).toEqual({ counts: countsOf(expected), total: expected.length, lastEventId: position });
    };
    for (const position of positions) await check(position);
    for (const status of ['shipped', 'pending'] as const) {
      for (const position of positions.filter((_, i) => i % 4 === 0)) {
        const expected = byId([...replay(log, position).values()].filter((o) => o.status === status));
        expect(await listAllAsOf(client, position, 2, status), `asOf ${position}, ${status}`).toEqual(expected);
      }
    }

    const ahead = (BigInt(head) + 1n).toString();
    for (const query of [client.orders.list.query({ asOf: ahead }), client.orders.counts.query({ asOf: ahead })]) {
      const err = await query.catch((e: unknown) => e);
      expect(codeOf(err)).toBe('PRECONDITION_FAILED');
      expect((err as Error).message).toContain(`ahead of the log, which ends at ${head}`);
    }

    // Prune the first half: what is left still rebuilds every position from the pruned end on.
    const { sql, db } = createDatabase(server.app.databaseUrl);
    try {
      await server.sql`update order_events set at = at - interval '2 hours'`;
      const upTo = log.findIndex((e) => e.id === positions[Math.floor(positions.length / 2)]) + 1;
      expect(await pruneEventBatch(db, 3_600_000, upTo)).toMatchObject({ deleted: upTo, prunedThrough: log[upTo - 1]!.id });
    } finally {
      await sql.end();
    }
    const prunedEnd = positions[Math.floor(positions.length / 2)]!;
    for (const position of positions.filter((p) => BigInt(p) >= BigInt(prunedEnd))) await check(position);
    const before = (BigInt(prunedEnd) - 1n).toString();
    for (const query of [client.orders.list.query({ asOf: before }), client.orders.counts.query({ asOf: before })]) {
      const err = await query.catch((e: unknown) => e);
      expect(codeOf(err)).toBe('PRECONDITION_FAILED');
      expect((err as Error).message).toContain(`before the oldest position the log can rebuild, ${prunedEnd}`);
    }
  });
});
