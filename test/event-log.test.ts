import { describe, expect, inject } from 'vitest';
import { test } from './support/server.ts';
import { record } from './support/subscriber.ts';

// The trigger: one event per committed change, whoever made it.
describe('the event log', () => {
  test('API writes append one event each, with the state after the change', async ({ server }) => {
    const client = server.client();
    const before = (await client.events.list.query({})).lastEventId;

    const created = await client.orders.create.mutate({ customerName: 'Ada', productName: 'Loom' });
    const updated = await client.orders.update.mutate({ id: created.id, status: 'shipped' });
    await client.orders.delete.mutate({ id: created.id });

    const log = await server.logAfter(before);
    expect(log.map((e) => e.type)).toEqual(['created', 'updated', 'deleted']);
    expect(log.every((e) => e.orderId === created.id && e.actor === 'anonymous')).toBe(true);
    expect(log[0]!.order).toEqual(created);
    expect(log[1]!.order).toEqual(updated);
    expect(log[1]!.changes).toEqual({ status: { from: 'pending', to: 'shipped' } });
    expect(log[2]!.order).toEqual(updated); // the last state
    expect(updated.version).toBe(2);
    expect(Date.parse(updated.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));
  });

  test('raw SQL writes are captured, with version and updated_at kept by the database', async ({ server }) => {
    const client = server.client();
    const before = (await client.events.list.query({})).lastEventId;

    const [row] = await server.sql<{ id: string }[]>`
      insert into orders (customer_name, product_name) values ('Grace', 'Compiler') returning id`;
    const id = row!.id;
    await server.sql`update orders set product_name = 'COBOL', version = 99 where id = ${id}`;
    await server.sql`delete from orders where id = ${id}`;

    // Raw SQL writes are in the log once positioned: at COMMIT, or by the next sequencer batch.
    await expect.poll(async () => (await server.logAfter(before)).length).toBe(3);
    const log = await server.logAfter(before);
    expect(log.map((e) => [e.type, e.order.version])).toEqual([
      ['created', 1],
      ['updated', 2], // `version = 99` from SQL is overruled: the database owns it
      ['deleted', 2],
    ]);
    expect(log[1]!.changes).toEqual({ productName: { from: 'Compiler', to: 'COBOL' } });
    expect(log[1]!.order.updatedAt > log[0]!.order.updatedAt).toBe(true);
    expect(log.every((e) => e.actor === 'sql:postgres')).toBe(true);
  });

  test('a replayed event (JSON made by PostgreSQL) equals the logged one, whatever its strings hold', async ({ server }) => {
    const client = server.client();
    const before = (await client.events.list.query({})).lastEventId;
    const odd = 'Zoë "Quote" \\ back\\slash </script> 🚀 \t tab';
    await server.sql.begin(async (tx) => {
      await tx`select set_config('live_orders.actor', ${odd}, true)`;
      const [row] = await tx<{ id: string }[]>`insert into orders (customer_name, product_name) values (${odd}, 'p') returning id`;
      await tx`update orders set status = 'shipped', product_name = ${odd} where id = ${row!.id}`;
    });

    await expect.poll(async () => (await server.logAfter(before)).length).toBe(2);
    const replayed = record(client, { lastEventId: before });
    const log = await server.logAfter(before);
    await replayed.waitForCount(log.length);
    expect(log.map((e) => [e.type, e.actor])).toEqual([['created', odd], ['updated', odd]]);
    expect(replayed.events).toEqual(log);
    expect(replayed.events[1]!.changes).toEqual({ productName: { from: 'p', to: odd }, status: { from: 'pending', to: 'shipped' } });
    replayed.stop();
  });

  test('an update that changes nothing appends nothing and keeps the version', async ({ server }) => {
    const client = server.client();
    const order = await client.orders.create.mutate({ customerName: 'Linus', productName: 'Kernel' });
    const { lastEventId } = await client.events.list.query({});

    const same = await client.orders.update.mutate({ id: order.id, customerName: 'Linus', status: 'pending' });
    await server.sql`update orders set status = status where id = ${order.id}`;
    // A real change after the no-ops, so "nothing arrived" is not just "not yet".
    await client.orders.update.mutate({ id: order.id, status: 'confirmed' });

    expect(same).toEqual(order);
    const log = await server.logAfter(lastEventId);
    expect(log.map((e) => [e.type, e.order.version])).toEqual([['updated', 2]]);
  });

  test('one transaction of several changes appends them in order, consecutively', async ({ server }) => {
    const client = server.client();
    const { lastEventId } = await client.events.list.query({});
    await server.sql.begin(async (tx) => {
      const [a] = await tx<{ id: string }[]>`insert into orders (customer_name, product_name) values ('T', 'one') returning id`;
      await tx`update orders set status = 'confirmed' where id = ${a!.id}`;
      await tx`insert into orders (customer_name, product_name) values ('T', 'two')`;
    });
    await expect.poll(async () => (await server.logAfter(lastEventId)).length).toBe(3);
    const log = await server.logAfter(lastEventId);
    expect(log.map((e) => [e.type, e.order.productName, e.order.status])).toEqual([
      ['created', 'one', 'pending'],
      ['updated', 'one', 'confirmed'],
      ['created', 'two', 'pending'],
    ]);
    expect(Number(log[2]!.id) - Number(log[0]!.id)).toBe(2);
  });

  test('a rolled-back transaction leaves no event', async ({ server }) => {
    const client = server.client();
    const { lastEventId } = await client.events.list.query({});
    await expect(
      server.sql.begin(async (tx) => {
        await tx`insert into orders (customer_name, product_name) values ('Nobody', 'Nothing')`;
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await client.orders.create.mutate({ customerName: 'Somebody', productName: 'Something' });
    const log = await server.logAfter(lastEventId);
    expect(log.map((e) => e.order.customerName)).toEqual(['Somebody']);
  });

  test('TRUNCATE, which would bypass the log, is refused', async ({ server }) => {
    await server.client().orders.create.mutate({ customerName: 'Kept', productName: 'Safe' });
    await expect(server.sql`truncate orders`).rejects.toThrow(/TRUNCATE of orders is refused/);
    const [{ count }] = await server.sql<[{ count: string }]>`select count(*) from orders`;
    expect(Number(count)).toBeGreaterThan(0);
  });

  test('events.list pages through the log in position order', async ({ server }) => {
    const client = server.client();
    const { lastEventId: start } = await client.events.list.query({});
    await client.orders.createMany.mutate({
      orders: Array.from({ length: 25 }, (_, i) => ({ customerName: `C${i}`, productName: 'P' })),
    });
    const pages: string[][] = [];
    let after = start;
    for (;;) {
      const page = await client.events.list.query({ after, limit: 10 });
      if (page.events.length === 0) {
        expect(page.lastEventId).toBe(after);
        break;
      }
      pages.push(page.events.map((e) => e.order.customerName));
      after = page.lastEventId;
    }
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(pages.flat()).toEqual(Array.from({ length: 25 }, (_, i) => `C${i}`));
  });

  test('orders.history holds every event of an order, also once it is deleted', async ({ server }) => {
    const client = server.client();
    const order = await client.orders.create.mutate({ customerName: 'H', productName: 'Story' });
    await client.orders.update.mutate({ id: order.id, status: 'cancelled' });
    await client.orders.delete.mutate({ id: order.id });
    const history = await client.orders.history.query({ id: order.id });
    expect(history.map((e) => e.type)).toEqual(['created', 'updated', 'deleted']);
    await expect(client.orders.get.query({ id: order.id })).rejects.toMatchObject({ data: { code: 'NOT_FOUND' } });
    await expect(client.orders.history.query({ id: '987654321' })).rejects.toMatchObject({ data: { code: 'NOT_FOUND' } });
  });

  // Commit ordering's NOTIFYs; sequenced ordering's (one per batch) are in sequenced-log.test.ts.
  test.skipIf(inject('eventOrdering') === 'sequenced')('each commit NOTIFYs a position it appended: every id for row writes, the last for a bulk insert', async ({ server }) => {
    const payloads: string[] = [];
    const listening = await server.sql.listen('order_events', (payload) => payloads.push(payload));
    try {
      const client = server.client();
      const before = (await client.events.list.query({})).lastEventId;
      await server.sql.begin(async (tx) => {
        await tx`insert into orders (customer_name, product_name) values ('N1', 'P'), ('N2', 'P')`;
      });
      await client.orders.createMany.mutate({ orders: [1, 2, 3].map((i) => ({ customerName: `B${i}`, productName: 'P' })) });
      const ids = (await server.logAfter(before)).map((e) => e.id);
      expect(ids).toHaveLength(5);
      const expected = [ids[0], ids[1], ids[4]];
      await expect.poll(() => payloads.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(expected.length);
      expect(payloads).toEqual(expected);
    } finally {
      await listening.unlisten();
    }
  });
});
