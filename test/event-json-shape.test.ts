/**
 * An event's JSON is written in four places: `order_json()` in the trigger migration (the
 * order inside every event, and what `createOrdersAs` returns), the replay query's
 * concatenation (`readEventJsonAfter`, sent to replaying subscribers as it is), and
 * `toOrder`/`toOrderEvent` in TypeScript (everything else). The timestamp format is in three
 * of them. This pins them together: over every field, every status and event type, and the
 * edge values of strings, times and ids (past 2^53), all four must give the same JSON.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ORDER_STATUSES } from '../shared/order-status.ts';
import { createDatabase, type Database } from '../server/db/client.ts';
import { readEventJsonAfter, readEventsAfter, toOrderEvent } from '../server/db/events.ts';
import { createOrdersAs, findOrder, toOrder } from '../server/db/orders.ts';
import { migrateDatabase } from '../server/db/migrate.ts';
import { orderEvents, orders } from '../server/db/schema.ts';
import { createTestDatabase } from './support/server.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let client: ReturnType<typeof createDatabase>;
let db: Database;

beforeAll(async () => {
  database = await createTestDatabase();
  await migrateDatabase(database.url);
  client = createDatabase(database.url);
  db = client.db;
});
afterAll(async () => {
  await client.sql.end();
  await database.drop();
});

const STRINGS = [
  'plain',
  'quote " backslash \\ slash / </script>',
  'ünïcödé 日本語 💥 \u{1F600}',
  'controls \u0001\u001f \t \n \r \b \f',
  'separators \u2028 \u2029 \u007f \u0085',
  'x'.repeat(200),
  ' spaces inside ',
];

// Times a raw SQL write may set (created_at; updated_at follows it on insert), at the edges
// of what both formats write the same way: 4-digit years, with and without milliseconds.
const TIMES = [
  '0100-01-01 00:00:00+00',
  '1969-12-31 23:59:59.999+00',
  '1970-01-01 00:00:00+00',
  '2000-02-29 12:34:56.7+00',
  '2026-11-29 10:00:00.001+05:30',
  '9999-12-31 23:59:59.999+00',
];

describe('one JSON shape for an event', () => {
  test('order_json(), the replay concatenation, toOrder and toOrderEvent agree on every field and edge value', async () => {
    const from = (await db.execute<{ p: string }>(sql`select coalesce(max(id), 0)::text as p from order_events`))[0]!.p;

    // Through the API's own paths: createOrdersAs returns order_json() as is.
    const created = await createOrdersAs(db, 'api "actor" \\ ü', STRINGS.map((s, i) => ({ customerName: s, productName: s.split('').reverse().join(''), status: ORDER_STATUSES[i % ORDER_STATUSES.length] })));
    for (const order of created) expect(order).toEqual(await findOrder(db, order.id));

    // Raw SQL: every status, edge times, then an update of every field, then deletes.
    for (const [i, at] of TIMES.entries()) {
      await db.execute(sql`insert into orders (customer_name, product_name, status, created_at)
        values (${STRINGS[i % STRINGS.length]!}, ${'p' + i}, ${ORDER_STATUSES[i % ORDER_STATUSES.length]!}::order_status, ${at}::timestamptz)`);
    }
    await db.execute(sql`update orders set customer_name = left(customer_name, 190) || ' ✓', product_name = 'changed "p"', status = 'delivered'
      where id in (select id from orders order by id desc limit 3)`);
    await db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('live_orders.actor', ${'sql actor \u2028 "x"'}, true)`);
      await tx.execute(sql`delete from orders where id in (select id from orders order by id limit 2)`);
    });

    // Every current order: toOrder (drizzle row) equals order_json() of the same row.
    const rows = await db.select().from(orders);
    const fromSql = await db.execute<{ id: string; order: unknown }>(sql`select id::text, order_json(orders) as "order" from orders`);
    const byId = new Map(fromSql.map((r) => [r.id, r.order]));
    expect(rows.length).toBeGreaterThan(TIMES.length);
    for (const row of rows) expect(toOrder(row)).toEqual(byId.get(row.id.toString()));

    // Every event: the replay's JSON, compacted, is byte for byte JSON.stringify(toOrderEvent(row)).
    const events = await db.select().from(orderEvents).where(sql`${orderEvents.id} > ${BigInt(from)}`).orderBy(orderEvents.id);
    const replayed = await readEventJsonAfter(db, from, 1000);
    const read = await readEventsAfter(db, from, 1000);
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(['created', 'updated', 'deleted']));
    expect(replayed.map((e) => e.id)).toEqual(events.map((e) => e.id.toString()));
    events.forEach((row, i) => {
      const expected = JSON.stringify(toOrderEvent(row));
      expect(JSON.stringify(JSON.parse(replayed[i]!.json))).toBe(expected);
      expect(JSON.stringify(read[i])).toBe(expected);
    });

    // The order inside a 'created' event is order_json() at commit; it equals toOrder of the row then.
    for (const event of read.filter((e) => e.type === 'created')) {
      const row = rows.find((r) => r.id.toString() === event.orderId);
      if (row && row.version === 1) expect(event.order).toEqual(toOrder(row));
    }
    // Times outside the years both write alike are refused, with nothing written.
    const before = (await db.execute<{ n: string }>(sql`select count(*)::text as n from order_events`))[0]!.n;
    for (const at of ['0099-12-31 23:59:59.999+00', '0044-03-15 00:00:00+00 BC', '10000-01-01 00:00:00+00', 'infinity', '-infinity']) {
      await expect(db.execute(sql`insert into orders (customer_name, product_name, created_at) values ('T', 'T', ${at}::timestamptz)`), at)
        .rejects.toMatchObject({ cause: { constraint_name: 'orders_created_at_range' } });
      await expect(db.execute(sql`update orders set created_at = ${at}::timestamptz where id = ${rows[0]!.id}`), at)
        .rejects.toMatchObject({ cause: { constraint_name: 'orders_created_at_range' } });
    }
    expect((await db.execute<{ n: string }>(sql`select count(*)::text as n from order_events`))[0]!.n).toBe(before);

    // Times came out as JavaScript writes them, for every edge.
    const times = rows.map((r) => toOrder(r).createdAt);
    for (const at of TIMES) expect(times).toContain(new Date(at.replace(' ', 'T').replace(/\+(\d\d)$/, '+$1:00')).toISOString());
  });

  test('ids and positions past 2^53 come out digit for digit from all four (never as a JSON number)', async () => {
    // Past Number.MAX_SAFE_INTEGER, a copy that wrote an id as a number, or parsed one, would
    // round it; the next ids from here are 9007199254740993 on.
    const from = '9007199254740992';
    await db.execute(sql`alter table orders alter column id restart with 9007199254740993`);
    await db.execute(sql`select setval('order_events_id_seq', ${from}::bigint)`);
    const [created] = await createOrdersAs(db, 'big', [{ customerName: 'Big', productName: 'Id' }]);
    expect(created?.id).toBe('9007199254740993');
    expect(created).toEqual(await findOrder(db, created!.id));
    await db.execute(sql`update orders set status = 'shipped' where id = ${BigInt(created!.id)}`);
    await db.execute(sql`delete from orders where id = ${BigInt(created!.id)}`);

    const events = await db.select().from(orderEvents).where(sql`${orderEvents.id} > ${BigInt(from)}`).orderBy(orderEvents.id);
    expect(events.map((e) => e.id.toString())).toEqual(['9007199254740993', '9007199254740994', '9007199254740995']);
    const replayed = await readEventJsonAfter(db, from, 10);
    const read = await readEventsAfter(db, from, 10);
    events.forEach((row, i) => {
      const expected = JSON.stringify(toOrderEvent(row));
      expect(expected).toContain('"orderId":"9007199254740993"');
      expect(JSON.stringify(JSON.parse(replayed[i]!.json))).toBe(expected);
      expect(JSON.stringify(read[i])).toBe(expected);
    });
  });
});
