import { describe, expect } from 'vitest';
import { createDatabase } from '../server/db/client.ts';
import { COUNT_BLOCK_SIZE, movesBetween, storeCountBlocks, type StatusMove } from '../server/db/order-count-blocks.ts';
import { CountBlockFiller } from '../server/events/count-block-filler.ts';
import { createLogger } from '../server/logger.ts';
import { applyCountMoves, totalOf, zeroCounts } from '../shared/order-counts.ts';
import { FLOW_BUCKETS, flowKindsOf, type FlowBucketSize } from '../shared/order-flow.ts';
import { ORDER_STATUSES } from '../shared/order-status.ts';
import { codeOf, countsOf, replay, tableCounts, writeHistory } from './support/replay.ts';
import { test, type Client } from './support/server.ts';

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
    for (const at of ['nine this morning', '2026-02-30T09:00:00Z', '0000-01-01T00:00:00Z', '9999-12-31T23:00:00-05:00']) {
      const err = await client.events.positionAt.query({ at }).catch((e: unknown) => e);
      expect(codeOf(err), at).toBe('BAD_REQUEST');
    }
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

      // As it was right after a past position: up to the bucket of its event, its events only.
      const middle = log[Math.floor(log.length / 2)]!;
      const then = await client.orders.flow.query({ bucket, asOf: middle.id });
      expect(then.lastEventId).toBe(middle.id);
      const thenEnd = Math.floor(Date.parse(middle.at) / ms) * ms + ms;
      expect(Date.parse(then.end)).toBe(thenEnd);
      const expectedThen = then.buckets.map((b) => ({ start: b.start, created: 0, shipped: 0, delivered: 0, cancelled: 0 }));
      for (const e of log) {
        const i = Math.floor((Date.parse(e.at) - (thenEnd - count * ms)) / ms);
        if (BigInt(e.id) > BigInt(middle.id) || i < 0 || i >= count) continue;
        for (const kind of flowKindsOf(e)) expectedThen[i]![kind]++;
      }
      expect(then.buckets).toEqual(expectedThen);
      const ahead = await client.orders.flow.query({ bucket, asOf: (BigInt(log.at(-1)!.id) + 1n).toString() }).catch((e: unknown) => e);
      expect(codeOf(ahead)).toBe('PRECONDITION_FAILED');
    });
  }
});

describe('stored blocks of count moves', () => {
  test('sum, with the log around them, exactly what the events between two positions move', async ({ server }) => {
    const client = server.client();
    await writeHistory(server, client);
    const log = await server.logAfter('0');
    const last = log.at(-1)!.id;
    const expected = (after: number, through: number) => {
      const counts = zeroCounts();
      for (const e of log) if (Number(e.id) > after && Number(e.id) <= through) applyCountMoves(counts, e);
      return counts;
    };
    const asCounts = (moves: StatusMove[]) => {
      const counts = zeroCounts();
      for (const m of moves) counts[m.status] += m.count;
      return counts;
    };
    const { sql, db } = createDatabase(server.app.databaseUrl);
    const size = 4n; // small blocks, so that this log has many; the table is emptied after
    try {
      // Only blocks the log has passed are stored: none past its end.
      await storeCountBlocks(db, '0', (BigInt(last) + 20n).toString(), { size });
      const stored = await server.sql<{ block: string }[]>`select block::text from order_count_blocks order by block`;
      expect(stored.length).toBeGreaterThan(3);
      expect(stored.every((b) => (BigInt(b.block) + 1n) * size <= BigInt(last))).toBe(true);
      for (let after = 0; after <= Number(last); after += 3) {
        for (const through of [after + 1, after + 5, after + 13, Number(last)]) {
          expect(asCounts(await movesBetween(db, String(after), String(through), size)), `(${after}, ${through}]`).toEqual(expected(after, through));
        }
      }
    } finally {
      await server.sql`delete from order_count_blocks`;
      await sql.end();
    }
  });
});

describe('the count block filler', () => {
  test('stores every block of 10,000 positions the log has passed, each the sum of its events; asOf pages past the scan limit', async ({ server }) => {
    await server.sql`insert into orders (customer_name, product_name, status)
                     select 'bulk ' || i, 'p', (array['pending', 'shipped'])[1 + i % 2]::order_status from generate_series(1, 20500) i`;
    // EVENT_ORDERING=sequenced: until the sequencer has positioned them, they are not in the log.
    await expect
      .poll(async () => (await server.sql<[{ n: number }]>`select count(*)::int as n from order_events_pending`)[0].n, { timeout: 30_000 })
      .toBe(0);
    const last = BigInt(await server.sql<[{ last: string }]>`select max(id)::text as last from order_events`.then((r) => r[0].last));
    const { sql, db } = createDatabase(server.app.databaseUrl);
    try {
      await new CountBlockFiller({ db, log: createLogger('silent') }).runOnce();
    } finally {
      await sql.end();
    }
    const log = await server.logAfter('0');
    const stored = await server.sql<{ block: string; moves: Record<string, number> }[]>`select b.block::text as block, b.moves from order_count_blocks b order by b.block`;
    const sealed = Number(last / COUNT_BLOCK_SIZE);
    expect(stored.map((b) => Number(b.block))).toEqual(Array.from({ length: sealed }, (_, i) => i));
    for (const b of stored) {
      const counts = zeroCounts();
      const from = BigInt(b.block) * COUNT_BLOCK_SIZE;
      for (const e of log) if (BigInt(e.id) > from && BigInt(e.id) <= from + COUNT_BLOCK_SIZE) applyCountMoves(counts, e);
      expect({ ...zeroCounts(), ...b.moves }).toEqual(counts);
    }

    // A filter that matches few among more ids than a page may look at: short pages with a
    // cursor, and every match once in the end.
    const client = server.client();
    const head = (await client.events.head.query()).lastEventId;
    const pages: number[] = [];
    const found: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.orders.list.query({ asOf: head, status: 'cancelled', limit: 1000, cursor });
      pages.push(page.orders.length);
      found.push(...page.orders.map((o) => o.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    expect(pages.length).toBeGreaterThan(1);
    expect(pages.slice(0, -1).some((n) => n < 1000)).toBe(true);
    expect(found).toEqual((await server.sql<{ id: string }[]>`select o.id::text as id from orders o where o.status = 'cancelled' order by o.id`).map((r) => r.id));
  });
});
