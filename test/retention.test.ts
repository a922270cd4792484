import { TRPCClientError } from '@trpc/client';
import { describe, expect, vi } from 'vitest';
import { createDatabase } from '../server/db/client.ts';
import { LogGapError, readEventJsonAfter } from '../server/db/events.ts';
import type { Order } from '../shared/orders.ts';
import { pruneEventBatch } from '../server/db/prune-events.ts';
import { test, testWithServer, type Client, type TestServer } from './support/server.ts';
import { record, type Recorder } from './support/subscriber.ts';
import { positionOf } from '../shared/resume-id.ts';

const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);

async function prunedThrough(server: TestServer): Promise<bigint> {
  const [row] = await server.sql<{ through: string }[]>`select through::text from order_events_pruned`;
  return BigInt(row!.through);
}

async function waitForPrunedThrough(server: TestServer, position: string | bigint): Promise<void> {
  await vi.waitFor(async () => expect(await prunedThrough(server)).toBeGreaterThanOrEqual(BigInt(position)), { timeout: 20_000, interval: 50 });
}

async function refusal(recorder: Recorder): Promise<unknown> {
  await vi.waitFor(() => expect(recorder.errors).toHaveLength(1), { timeout: 15_000 });
  expect(recorder.events).toEqual([]);
  return recorder.errors[0];
}

async function allOrders(client: Client): Promise<Order[]> {
  return (await client.orders.list.query({ limit: 1000 })).orders;
}

// Real time: events live one second, and the pruner looks ten times a second.
const shortLived = testWithServer({ EVENT_RETENTION: '1s', EVENT_PRUNE_INTERVAL: '100ms' });

describe('EVENT_RETENTION=1s, on the clock', () => {
  shortLived('an event older than the retention is pruned by itself; its order stays', async ({ server }) => {
    const writer = server.client({ transport: 'sse' });
    const before = (await writer.orders.list.query({ limit: 1 })).lastEventId;
    const order = await writer.orders.create.mutate({ customerName: 'Short', productName: 'lived' });
    // The pruned end moves only to an event's position: past `before` is our event.
    await waitForPrunedThrough(server, BigInt(before) + 1n);
    expect(await server.sql`select 1 from order_events where order_id = ${order.id}`).toHaveLength(0);
    await expect(writer.orders.get.query({ id: order.id })).resolves.toEqual(order);
  });
});

// Long-lived events, made old on purpose: which events are old is then up to the test.
const longLived = testWithServer({ EVENT_RETENTION: '1h', EVENT_PRUNE_INTERVAL: '100ms' });

async function ageThrough(server: TestServer, position: string): Promise<void> {
  await server.sql`update order_events set at = at - interval '2 hours' where id <= ${position}`;
}

describe('events pruned while a client is away', () => {
  for (const transport of ['websocket', 'sse'] as const) {
    longLived(`over ${transport}: its resume gets PRECONDITION_FAILED, and a fresh snapshot goes on to equal the table`, async ({ server }) => {
      const client = server.client({ transport });
      const writer = server.client({ transport: 'sse' });
      const [kept] = await writer.orders.createMany.mutate({ orders: [{ customerName: 'kept', productName: 'p' }] });
      const snapshot = await client.orders.list.query({ limit: 1000 });
      const away = record(client, { lastEventId: snapshot.lastEventId });
      await writer.orders.update.mutate({ id: kept!.id, status: 'confirmed' });
      await away.waitForCount(1);
      const lastSeen = away.ids.at(-1)!;
      away.stop();

      // Away: a change, which grows old and is pruned.
      const missed = await writer.orders.create.mutate({ customerName: 'missed', productName: 'p' });
      const missedEvent = (await server.logAfter(positionOf(lastSeen)))[0]!;
      expect(missedEvent.orderId).toBe(missed.id);
      await ageThrough(server, missedEvent.id);
      await waitForPrunedThrough(server, missedEvent.id);

      const resumed = record(client, { lastEventId: lastSeen });
      const error = await refusal(resumed);
      expect(codeOf(error)).toBe('PRECONDITION_FAILED');
      expect((error as Error).message).toContain(`position ${positionOf(lastSeen)} is no longer in the log`);
      const listed = await writer.events.list.query({ after: positionOf(lastSeen) }).catch((e: unknown) => e);
      expect(codeOf(listed)).toBe('PRECONDITION_FAILED');

      // Resync: a snapshot, then its changes.
      const fresh = await client.orders.list.query({ limit: 1000 });
      const copy = new Map(fresh.orders.map((o) => [o.id, o]));
      const live = record(client, { lastEventId: fresh.lastEventId });
      const made = await writer.orders.create.mutate({ customerName: 'after', productName: 'resync' });
      await writer.orders.update.mutate({ id: made.id, status: 'shipped' });
      await writer.orders.delete.mutate({ id: missed.id });
      await live.waitForCount(3);
      for (const e of live.events) {
        if (e.type === 'deleted') copy.delete(e.orderId);
        else copy.set(e.orderId, e.order);
      }
      expect([...copy.values()].sort((a, b) => Number(a.id) - Number(b.id))).toEqual(await allOrders(writer));
      live.stop();
      resumed.stop();
    });
  }
});


describe('pruning (EVENT_RETENTION=1h, events aged in SQL)', () => {
  longLived('deletes only the old start of the log; orders stay; the snapshot and live feed go on', async ({ server }) => {
    const writer = server.client({ transport: 'sse' });
    for (let i = 0; i < 3; i++) {
      await writer.orders.createMany.mutate({ orders: Array.from({ length: 800 }, (_, n) => ({ customerName: `bulk ${i}.${n}`, productName: 'p' })) });
    }
    const log = await server.logAfter(String(await prunedThrough(server)));
    expect(log.length).toBeGreaterThanOrEqual(2400);
    const oldEnd = log.at(-201)!.id; // all but the last 200 grow old...
    await ageThrough(server, oldEnd);
    const straggler = log.at(-100)!.id; // ...and one after a young one, which must stay
    await server.sql`update order_events set at = at - interval '2 hours' where id = ${straggler}`;

    await waitForPrunedThrough(server, oldEnd);
    expect(await prunedThrough(server)).toBe(BigInt(oldEnd));
    const [left] = await server.sql<{ n: number; first: string }[]>`select count(*)::int as n, min(id)::text as first from order_events`;
    expect(left).toEqual({ n: 200, first: log.at(-200)!.id });
    expect(await server.sql`select 1 from order_events where id = ${straggler}`).toHaveLength(1);
    const [orders] = await server.sql<{ n: number }[]>`select count(*)::int as n from orders`;
    expect(orders!.n).toBeGreaterThanOrEqual(2400);

    // events.list without `after` starts at the oldest event kept.
    const first = await writer.events.list.query({ limit: 1 });
    expect(first.events.map((e) => e.id)).toEqual([log.at(-200)!.id]);

    // Everything pruned: the last position is the pruned end, not "0", so a snapshot's
    // lastEventId still resumes.
    await ageThrough(server, log.at(-1)!.id);
    await waitForPrunedThrough(server, log.at(-1)!.id);
    const snapshot = await writer.orders.list.query({ limit: 1 });
    expect(snapshot.lastEventId).toBe(log.at(-1)!.id);
    await expect(writer.events.list.query({})).resolves.toEqual({ events: [], lastEventId: log.at(-1)!.id });
    const live = record(server.client(), { lastEventId: snapshot.lastEventId });
    const next = await writer.orders.create.mutate({ customerName: 'next', productName: 'p' });
    await live.waitForCount(1);
    expect(live.events[0]!.orderId).toBe(next.id);
    live.stop();
  });

  longLived('a replay overtaken by a prune is refused at its next page, never handed a gap', async ({ server }) => {
    const writer = server.client({ transport: 'sse' });
    const from = (await writer.orders.list.query({ limit: 1 })).lastEventId;
    await writer.orders.createMany.mutate({ orders: Array.from({ length: 30 }, (_, n) => ({ customerName: `replay ${n}`, productName: 'p' })) });
    const log = await server.logAfter(from);
    const { sql, db } = createDatabase(server.app.databaseUrl);
    try {
      // What a replaying subscription reads, a page at a time.
      const firstPage = await readEventJsonAfter(db, from, 10);
      expect(firstPage.map((e) => e.id)).toEqual(log.slice(0, 10).map((e) => e.id));
      const listed = await writer.events.list.query({ after: from, limit: 10 });
      expect(listed.lastEventId).toBe(log[9]!.id);

      await ageThrough(server, log[19]!.id); // pruned past both readers' places
      await waitForPrunedThrough(server, log[19]!.id);

      const next = await readEventJsonAfter(db, firstPage.at(-1)!.id, 10).catch((e: unknown) => e);
      expect(next).toBeInstanceOf(LogGapError);
      expect((next as LogGapError).reason).toBe('pruned');
      const nextListed = await writer.events.list.query({ after: listed.lastEventId, limit: 10 }).catch((e: unknown) => e);
      expect(codeOf(nextListed)).toBe('PRECONDITION_FAILED');
      // From the pruned end on there is no gap.
      expect((await readEventJsonAfter(db, log[19]!.id, 10)).map((e) => e.id)).toEqual(log.slice(20).map((e) => e.id));
    } finally {
      await sql.end();
    }
  });

  longLived('orders.history says when an order’s early history was pruned', async ({ server }) => {
    const writer = server.client({ transport: 'sse' });
    const order = await writer.orders.create.mutate({ customerName: 'History', productName: 'p' });
    await writer.orders.update.mutate({ id: order.id, status: 'confirmed' });
    await writer.orders.update.mutate({ id: order.id, status: 'shipped' });
    const gone = await writer.orders.create.mutate({ customerName: 'Gone', productName: 'p' });
    await writer.orders.delete.mutate({ id: gone.id });
    const full = await writer.orders.history.query({ id: order.id });
    expect(full.map((e) => e.type)).toEqual(['created', 'updated', 'updated']);
    expect(full[0]).not.toHaveProperty('earlierPruned');

    await ageThrough(server, full[0]!.id);
    await waitForPrunedThrough(server, full[0]!.id);
    const later = await writer.orders.history.query({ id: order.id });
    expect(later).toEqual([{ ...full[1]!, earlierPruned: true }, full[2]]);

    // Every event pruned: the order still exists, with an empty history; a deleted one is gone.
    const goneHistory = await server.logAfter(full[2]!.id);
    await ageThrough(server, goneHistory.at(-1)!.id);
    await waitForPrunedThrough(server, goneHistory.at(-1)!.id);
    await expect(writer.orders.history.query({ id: order.id })).resolves.toEqual([]);
    const notFound = await writer.orders.history.query({ id: gone.id }).catch((e: unknown) => e);
    expect(codeOf(notFound)).toBe('NOT_FOUND');
  });

  longLived('an idempotency key whose order was deleted and pruned gets NOT_FOUND, and nothing is written', async ({ server }) => {
    const writer = server.client({ transport: 'sse' });
    const input = { customerName: 'Keyed', productName: 'p', idempotencyKey: 'pruned-key-1' };
    const order = await writer.orders.create.mutate(input);
    await writer.orders.delete.mutate({ id: order.id });
    const last = (await writer.orders.list.query({ limit: 1 })).lastEventId;
    await ageThrough(server, last);
    await waitForPrunedThrough(server, last);

    const retry = await writer.orders.create.mutate(input).catch((e: unknown) => e);
    expect(codeOf(retry)).toBe('NOT_FOUND');
    expect((await writer.orders.list.query({ limit: 1 })).lastEventId).toBe(last);
  });
});

describe('one prune batch (no pruner running: EVENT_RETENTION unset)', () => {
  test('deletes at most its batch, from the start, and raises the pruned end with it; one node at a time', async ({ server }) => {
    const writer = server.client({ transport: 'sse' });
    await writer.orders.createMany.mutate({ orders: Array.from({ length: 250 }, (_, n) => ({ customerName: `batch ${n}`, productName: 'p' })) });
    const log = await server.logAfter('0');
    await ageThrough(server, log.at(-1)!.id);
    const { sql, db } = createDatabase(server.app.databaseUrl);
    try {
      await expect(pruneEventBatch(db, 3_600_000, 100)).resolves.toEqual({ deleted: 100, prunedThrough: log[99]!.id, ran: true });
      expect(await prunedThrough(server)).toBe(BigInt(log[99]!.id));
      expect((await server.logAfter(log[99]!.id)).map((e) => e.id)).toEqual(log.slice(100).map((e) => e.id));

      // Another node's batch while this one holds the lock: it does nothing.
      const holder = await server.sql.reserve();
      try {
        await holder`begin`;
        await holder`select pg_advisory_xact_lock(7305861045390213)`;
        await expect(pruneEventBatch(db, 3_600_000, 100)).resolves.toMatchObject({ deleted: 0, ran: false });
        await holder`rollback`;
      } finally {
        holder.release();
      }
      // Young events stay, whatever the batch size.
      await server.sql`update order_events set at = now() where id > ${log[149]!.id}`;
      await expect(pruneEventBatch(db, 3_600_000, 1000)).resolves.toEqual({ deleted: 50, prunedThrough: log[149]!.id, ran: true });
      await expect(pruneEventBatch(db, 3_600_000, 1000)).resolves.toEqual({ deleted: 0, prunedThrough: log[149]!.id, ran: true });
    } finally {
      await sql.end();
    }
  });
});

describe('a node whose listener never saw events that were then pruned', () => {
  test('sends its live subscribers to resync with PRECONDITION_FAILED, and goes on from the pruned end', async ({ server }) => {
    const writer = server.client({ transport: 'sse' });
    await writer.orders.create.mutate({ customerName: 'before', productName: 'p' });
    const seen = (await writer.orders.list.query({ limit: 1 })).lastEventId;
    await vi.waitFor(() => expect(server.app.hub.position).toBe(seen), { timeout: 10_000 });
    const live = record(server.client(), {}); // at the live end, i.e. the hub's position
    await vi.waitFor(() => expect(server.app.hub.subscriberCount).toBe(1), { timeout: 10_000 });

    // Events written and pruned before this node's listener could read them (it was cut
    // off, another node pruned): one transaction, so the listener can never see them.
    const [gone] = await server.sql.begin(async (tx) => {
      await tx`set constraints all immediate`; // append the events now, not at commit
      await tx`insert into orders (customer_name, product_name) select 'unseen ' || g, 'p' from generate_series(1, 3) g`;
      const deleted = await tx<{ id: string }[]>`delete from order_events where id > ${seen} returning id::text`;
      expect(deleted).toHaveLength(3);
      const through = deleted.map((d) => BigInt(d.id)).reduce((a, b) => (a > b ? a : b));
      return tx<{ through: string }[]>`update order_events_pruned set through = ${through.toString()} returning through::text`;
    });

    const error = await refusal(live);
    expect(codeOf(error)).toBe('PRECONDITION_FAILED');
    expect(server.app.hub.position).toBe(gone!.through);

    // From the pruned end on, this node serves as before.
    const resynced = record(server.client(), { lastEventId: (await writer.orders.list.query({ limit: 1 })).lastEventId });
    const next = await writer.orders.create.mutate({ customerName: 'next', productName: 'p' });
    await resynced.waitForCount(1);
    expect(resynced.events[0]!.orderId).toBe(next.id);
    resynced.stop();
  });
});
