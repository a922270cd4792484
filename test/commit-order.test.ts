import postgres from 'postgres';
import { describe, expect, inject, vi } from 'vitest';
import { test } from './support/server.ts';

// Positions follow commit order: once a reader has seen N, nothing below N appears later.
// Two connections drive the interleaving step by step.
// Commit ordering's position lock; sequenced ordering has none (sequenced-log.test.ts).
const commitOrdering = test.skipIf(inject('eventOrdering') === 'sequenced');

describe('event positions follow commit order', () => {
  test('a transaction that writes first but commits last gets the later position', async ({ server }) => {
    const client = server.client();
    const { lastEventId: start } = await client.events.list.query({});
    const early = await server.sql.reserve();
    const late = await server.sql.reserve();
    try {
      await early`begin`;
      await early`insert into orders (customer_name, product_name) values ('early', 'writes first')`;
      await late`begin`;
      await late`insert into orders (customer_name, product_name) values ('late', 'writes second')`;
      await late`commit`;

      // A reader that has seen the committed event (once positioned: at once, or by the
      // next sequencer batch)...
      await expect.poll(async () => (await server.logAfter(start)).length).toBe(1);
      const seen = await server.logAfter(start);
      expect(seen.map((e) => e.order.customerName)).toEqual(['late']);

      await early`commit`;
      // ...still receives the early writer's event by resuming after what it saw.
      await expect.poll(async () => (await server.logAfter(seen[0]!.id)).map((e) => e.order.customerName)).toEqual(['early']);
    } finally {
      early.release();
      late.release();
    }
  });

  commitOrdering('a transaction holding a position makes the next commit wait until it is visible', async ({ server }) => {
    const client = server.client();
    const { lastEventId: start } = await client.events.list.query({});
    const first = await server.sql.reserve();
    const second = await server.sql.reserve();
    try {
      await first`begin`;
      await first`insert into orders (customer_name, product_name) values ('first', 'x')`;
      // Fire the deferred trigger now instead of at commit: `first` takes its position and
      // keeps the position lock until it ends.
      await first`set constraints all immediate`;

      await second`begin`;
      await second`insert into orders (customer_name, product_name) values ('second', 'y')`;
      let committed = false;
      const secondCommit = second`commit`.then(() => {
        committed = true;
        return 'committed';
      });

      // The second commit cannot complete: it waits on the position lock, because a position
      // below its own is not visible yet.
      await expect
        .poll(async () => (await server.sql`select 1 from pg_stat_activity where wait_event_type = 'Lock' and wait_event = 'advisory' and datname = current_database()`).length, { timeout: 10_000 })
        .toBe(1);
      expect(committed).toBe(false);
      expect(await server.logAfter(start)).toEqual([]);

      await first`commit`;
      await expect(secondCommit).resolves.toBe('committed');
      const log = await server.logAfter(start);
      expect(log.map((e) => e.order.customerName)).toEqual(['first', 'second']);
    } finally {
      first.release();
      second.release();
    }
  });

  test('many concurrent writers: every reader sees positions as a growing prefix', async ({ server }) => {
    const client = server.client();
    const { lastEventId: start } = await client.events.list.query({});
    const writers = Array.from({ length: 4 }, () => postgres(server.app.databaseUrl, { max: 1 }));
    let done = false;
    const writing = Promise.all(
      writers.map(async (w, n) => {
        for (let i = 0; i < 100; i++) {
          await w.begin(async (tx) => {
            await tx`insert into orders (customer_name, product_name) values (${`w${n}`}, ${`#${i}`})`;
            if (i % 3 === 0) await tx`select pg_sleep(0.002)`; // commit a little later
          });
        }
      }),
    ).finally(() => (done = true));

    // A reader polling the log must never find a position below one it has already seen.
    let seen = start;
    const seenIds: number[] = [];
    while (!done) {
      const fresh = await server.logAfter(seen);
      for (const e of fresh) seenIds.push(Number(e.id));
      if (fresh.length > 0) seen = fresh[fresh.length - 1]!.id;
    }
    await writing;
    await vi.waitFor(async () => {
      const rest = await server.logAfter(seen);
      for (const e of rest) seenIds.push(Number(e.id));
      if (rest.length > 0) seen = rest[rest.length - 1]!.id;
      expect(seenIds).toHaveLength(400);
    });
    const all = (await server.logAfter(start)).map((e) => Number(e.id));
    expect(seenIds).toEqual(all);
    await Promise.all(writers.map((w) => w.end()));
  });
  commitOrdering('a bulk API insert waits for a position held by another transaction, and comes after it', async ({ server }) => {
    const client = server.client();
    const { lastEventId: start } = await client.orders.list.query({ limit: 1 });
    const holder = await server.sql.reserve();
    try {
      await holder`begin`;
      await holder`insert into orders (customer_name, product_name) values ('holder', 'x')`;
      await holder`set constraints all immediate`; // takes its position and the lock now
      let done = false;
      const bulk = client.orders.createMany
        .mutate({ orders: [{ customerName: 'bulk', productName: 'a' }, { customerName: 'bulk', productName: 'b' }] })
        .finally(() => (done = true));
      // The statement-level append waits on the position lock like any commit.
      await expect
        .poll(async () => (await server.sql`select 1 from pg_stat_activity where wait_event_type = 'Lock' and wait_event = 'advisory' and datname = current_database()`).length, { timeout: 10_000 })
        .toBe(1);
      expect(done).toBe(false);
      await holder`commit`;
      await bulk;
      const log = await server.logAfter(start);
      expect(log.map((e) => [e.order.customerName, e.order.productName])).toEqual([['holder', 'x'], ['bulk', 'a'], ['bulk', 'b']]);
    } finally {
      holder.release();
    }
  });

  test('bulk API inserts (one append per statement) beside SQL writers: a growing prefix, each call consecutive and in order', async ({ server }) => {
    const client = server.client();
    // The end of the log now (events.list without `after` pages from its start).
    const { lastEventId: start } = await client.orders.list.query({ limit: 1 });
    const sqlWriter = postgres(server.app.databaseUrl, { max: 1 });
    let done = false;
    const calls: Array<Promise<Array<{ id: string }>>> = [];
    for (let c = 0; c < 12; c++) {
      calls.push(client.orders.createMany.mutate({ orders: Array.from({ length: 50 }, (_, i) => ({ customerName: `bulk${c}`, productName: `#${i}` })) }));
    }
    const writing = Promise.all([
      Promise.all(calls),
      (async () => {
        for (let i = 0; i < 60; i++) await sqlWriter`insert into orders (customer_name, product_name) values ('sql', ${`#${i}`})`;
      })(),
    ]).finally(() => (done = true));

    let seen = start;
    const seenIds: number[] = [];
    const read = async () => {
      const fresh = await server.logAfter(seen);
      for (const e of fresh) seenIds.push(Number(e.id));
      if (fresh.length > 0) seen = fresh[fresh.length - 1]!.id;
    };
    while (!done) await read();
    const [created] = await writing;
    await vi.waitFor(async () => {
      await read();
      expect(seenIds).toHaveLength(12 * 50 + 60);
    });
    const log = await server.logAfter(start);
    expect(seenIds).toEqual(log.map((e) => Number(e.id)));
    expect(new Set(log.map((e) => e.orderId)).size).toBe(log.length);
    expect(log.every((e) => e.type === 'created')).toBe(true);
    expect(log.filter((e) => e.order.customerName === 'sql').map((e) => e.actor)).toEqual(Array(60).fill(expect.stringMatching(/^sql:/)));
    for (const [c, orders] of created.entries()) {
      // One call's events: consecutive positions, in the order the orders were given.
      const events = log.filter((e) => e.order.customerName === `bulk${c}`);
      expect(events.map((e) => e.orderId)).toEqual(orders.map((o) => o.id));
      expect(events.map((e) => e.order.productName)).toEqual(Array.from({ length: 50 }, (_, i) => `#${i}`));
      expect(events.every((e) => e.actor === 'anonymous')).toBe(true);
      const first = Number(events[0]!.id);
      expect(events.map((e) => Number(e.id))).toEqual(Array.from({ length: 50 }, (_, i) => first + i));
    }
    await sqlWriter.end();
  });
});
