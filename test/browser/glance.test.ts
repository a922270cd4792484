import { describe, expect } from 'vitest';
import type { Page } from 'playwright-core';
import type postgres from 'postgres';
import { createDatabase } from '../../server/db/client.ts';
import { pruneEventBatch } from '../../server/db/prune-events.ts';
import { test } from '../support/server.ts';
import { databaseRows, liveStatus, openLivePage, pageRows, useBrowser, type Row } from './browser.ts';
import { ORDER_STATUSES, type OrderStatus } from '../../shared/order-status.ts';
import type { Order, OrderEvent } from '../../shared/orders.ts';
import { FLOW_KINDS, flowKindsOf } from '../../shared/order-flow.ts';

const browser = useBrowser();

type Counts = Record<OrderStatus, number>;
const WAIT = { timeout: 20_000, interval: 100 };

const tally = (statuses: Iterable<string>): Counts => {
  const counts = Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Counts;
  for (const s of statuses) counts[s as OrderStatus] += 1;
  return counts;
};

/** The count tiles as the page shows them; null while any is still loading. */
async function pageCounts(page: Page): Promise<Counts | null> {
  const tiles = await page.$$eval('[data-testid="count"]', (els) => els.map((el) => [el.getAttribute('data-status') ?? '', el.querySelector('.count__value')?.textContent ?? '']));
  if (tiles.length !== ORDER_STATUSES.length || tiles.some(([, text]) => !/^[0-9,]+$/.test(text!))) return null;
  return Object.fromEntries(tiles.map(([status, text]) => [status, Number(text!.replace(/,/g, ''))])) as Counts;
}

async function databaseCounts(sql: postgres.Sql): Promise<Counts> {
  const rows = await sql<Array<{ status: string; n: number }>>`select status, count(*)::int as n from orders group by status`;
  return { ...tally([]), ...Object.fromEntries(rows.map((r) => [r.status, r.n])) };
}

/**
 * From now on, after every change of the page's DOM, the count tiles are compared with the
 * statuses of the table's rows (every order is on screen in these tests); a disagreement at
 * any moment is recorded. Tiles still loading ('…') are not compared.
 */
async function watchCountsAgainstTable(page: Page) {
  await page.evaluate((statuses) => {
    const seen: string[] = [];
    (window as unknown as { __countMismatches: string[] }).__countMismatches = seen;
    const check = () => {
      const tiles = [...document.querySelectorAll('[data-testid="count"]')];
      const shown = tiles.map((t) => t.querySelector('.count__value')?.textContent ?? '');
      if (shown.some((text) => !/^[0-9,]+$/.test(text))) return;
      const fromTiles: Record<string, number> = {};
      tiles.forEach((t, i) => (fromTiles[t.getAttribute('data-status')!] = Number(shown[i]!.replace(/,/g, ''))));
      const fromRows: Record<string, number> = Object.fromEntries(statuses.map((s) => [s, 0]));
      for (const select of document.querySelectorAll('[data-testid="order-row"] select')) fromRows[select.getAttribute('data-status')!]! += 1;
      if (statuses.some((s) => fromTiles[s] !== fromRows[s])) seen.push(JSON.stringify({ fromTiles, fromRows }));
    };
    new MutationObserver(check).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['data-status'] });
  }, [...ORDER_STATUSES]);
  return () => page.evaluate(() => (window as unknown as { __countMismatches: string[] }).__countMismatches);
}

/** Waits until the page's rows and counts are exactly the database's. */
async function expectPageEqualsDatabase(page: Page, sql: postgres.Sql) {
  await expect.poll(async () => ({ rows: await pageRows(page), counts: await pageCounts(page) }), WAIT).toEqual({
    rows: await databaseRows(sql),
    counts: await databaseCounts(sql),
  });
}

/** The whole log, read through events.list from the start. */
async function wholeLog(server: { logAfter(after: string): Promise<OrderEvent[]> }) {
  return server.logAfter('0');
}

/** The rows right after `position`, replayed from the log by this test on its own. */
function replay(log: readonly OrderEvent[], position: string): Row[] {
  const rows = new Map<string, Order>();
  for (const event of log) {
    if (BigInt(event.id) > BigInt(position)) break;
    if (event.type === 'deleted') rows.delete(event.orderId);
    else rows.set(event.orderId, event.order);
  }
  return [...rows.values()]
    .sort((a, b) => Number(BigInt(b.id) - BigInt(a.id)))
    .map((o) => ({ id: o.id, status: o.status, version: o.version, customerName: o.customerName, productName: o.productName }));
}

/** Per minute, what the log says up to `upTo`: each event counted by the flow's definition (shared/order-flow.ts), newest minute first. */
function flowPerMinute(log: readonly OrderEvent[], upTo?: string, bucketMs = 60_000) {
  const buckets = new Map<string, Record<string, number>>();
  for (const event of log) {
    if (upTo !== undefined && BigInt(event.id) > BigInt(upTo)) break;
    const start = new Date(Math.floor(Date.parse(event.at) / bucketMs) * bucketMs).toISOString();
    for (const kind of flowKindsOf(event)) {
      const bucket = buckets.get(start) ?? Object.fromEntries(FLOW_KINDS.map((k) => [k, 0]));
      bucket[kind]! += 1;
      buckets.set(start, bucket);
    }
  }
  return Object.fromEntries([...buckets].sort(([a], [b]) => (a < b ? 1 : -1)));
}

/** The chart's numbers as its table gives them (open "Numbers per minute" first), by minute. */
function chartNumbers(page: Page) {
  return page.$$eval('[data-testid="flow-table"] tbody tr', (trs) =>
    Object.fromEntries(
      trs.map((tr) => [tr.getAttribute('data-start'), Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.getAttribute('data-kind'), Number(td.textContent)]))]),
    ),
  );
}

async function travelTo(page: Page, position: string) {
  const open = page.getByRole('button', { name: 'See the board at an earlier moment' });
  if (await open.isVisible()) await open.click();
  await page.locator('#travel-position').fill(position);
  await page.getByRole('button', { name: 'Go', exact: true }).click();
}

const travelPosition = (page: Page) => page.getByTestId('travel-position').getAttribute('data-position');

describe('the shop at a glance', () => {
  test('counts per status equal the table at every moment: a burst of API and SQL writes, a dropped connection', async ({ server }) => {
    const client = server.client();
    const statuses: OrderStatus[] = ['pending', 'confirmed', 'shipped'];
    const seeded = await client.orders.createMany.mutate({
      orders: Array.from({ length: 30 }, (_, i) => ({ customerName: `Customer ${i}`, productName: `Product ${i % 7}`, status: statuses[i % 3] })),
    });
    const { context, page } = await openLivePage(browser(), server.url);
    const mismatches = await watchCountsAgainstTable(page);
    await expectPageEqualsDatabase(page, server.sql);

    // A burst from every side at once, on disjoint orders: API creates, updates and deletes,
    // SQL inserts, updates and deletes.
    const ids = seeded.map((o) => o.id);
    await Promise.all([
      client.orders.createMany.mutate({ orders: Array.from({ length: 10 }, (_, i) => ({ customerName: `Burst ${i}`, productName: 'API' })) }),
      ...ids.slice(0, 8).map((id) => client.orders.update.mutate({ id, status: 'shipped' })),
      server.sql`update orders set status = 'delivered' where id in ${server.sql(ids.slice(8, 14))}`,
      server.sql`insert into orders (customer_name, product_name, status) select 'SQL ' || g, 'psql', 'confirmed' from generate_series(1, 8) g`,
      server.sql`delete from orders where id in ${server.sql(ids.slice(14, 19))}`,
      ...ids.slice(19, 23).map((id) => client.orders.delete.mutate({ id })),
      ...ids.slice(23, 27).map((id) => client.orders.update.mutate({ id, status: 'cancelled' })),
    ]);
    await expectPageEqualsDatabase(page, server.sql);

    // Away while more changes are made; back, it catches up and the counts with it.
    await context.setOffline(true);
    server.drills.dropWebSockets();
    await page.getByTestId('connection-status').filter({ hasText: 'Offline' }).waitFor();
    await Promise.all([
      server.sql`update orders set status = 'delivered' where id in ${server.sql(ids.slice(0, 4))}`,
      client.orders.createMany.mutate({ orders: Array.from({ length: 5 }, (_, i) => ({ customerName: `Away ${i}`, productName: 'API', status: 'cancelled' })) }),
      server.sql`delete from orders where id in ${server.sql(ids.slice(27, 30))}`,
    ]);
    await context.setOffline(false);
    await liveStatus(page).waitFor({ timeout: 20_000 });
    await expectPageEqualsDatabase(page, server.sql);
    expect(await mismatches()).toEqual([]);
    await context.close();
  });

  test('the chart shows a burst in the minute it happened, live and read afresh', async ({ server }) => {
    const client = server.client();
    const { context, page } = await openLivePage(browser(), server.url);
    await page.getByTestId('flow-summary').filter({ hasNotText: 'Loading' }).waitFor();
    expect(await page.locator('[data-testid="flow"] canvas').count()).toBeGreaterThan(0);

    const [{ before }] = await server.sql<[{ before: string }]>`select coalesce(max(id), 0)::text as before from order_events`;
    const burst = await client.orders.createMany.mutate({ orders: Array.from({ length: 23 }, (_, i) => ({ customerName: `Rush ${i}`, productName: 'Umbrella' })) });
    await server.sql`update orders set status = 'shipped' where id in ${server.sql(burst.slice(0, 7).map((o) => o.id))}`;
    await Promise.all(burst.slice(7, 10).map((o) => client.orders.update.mutate({ id: o.id, status: 'cancelled' })));
    await client.orders.create.mutate({ customerName: 'Walk-in', productName: 'Umbrella', status: 'delivered' });

    const expected = async () => flowPerMinute(await wholeLog(server));
    await page.getByText('Numbers per minute').click();
    const log = await expected();
    // The burst is in the log as written: 24 created, 7 shipped, 3 cancelled, 1 delivered.
    const kinds = (await server.logAfter(before)).flatMap((e) => flowKindsOf(e));
    expect(tally(kinds.filter((k) => k !== 'created'))).toMatchObject({ shipped: 7, cancelled: 3, delivered: 1 });
    expect(kinds.filter((k) => k === 'created')).toHaveLength(24);
    await expect.poll(() => chartNumbers(page), WAIT).toEqual(log);

    // Read afresh from the server's flow query, it is the same.
    await page.reload();
    await page.getByTestId('flow-summary').filter({ hasNotText: 'Loading' }).waitFor();
    await page.getByText('Numbers per minute').click();
    await expect.poll(() => chartNumbers(page), WAIT).toEqual(log);
    await context.close();
  });

  test('time travel shows exactly the rows the log says, replays one change at a time, and comes back to live with every change', async ({ server }) => {
    const client = server.client();
    const [a, b, c] = await client.orders.createMany.mutate({
      orders: [
        { customerName: 'Ada', productName: 'Loom' },
        { customerName: 'Bea', productName: 'Bell' },
        { customerName: 'Cy', productName: 'Cog' },
      ],
    });
    await client.orders.update.mutate({ id: a!.id, status: 'shipped' });
    await server.sql`update orders set status = 'confirmed', product_name = 'Cogwheel' where id = ${c!.id}`;
    await client.orders.delete.mutate({ id: b!.id });
    const [{ deletedAt }] = await server.sql<[{ deletedAt: string }]>`select max(id)::text as "deletedAt" from order_events`;
    // The same id again, from SQL: a different order that happens to reuse it.
    await server.sql`insert into orders (id, customer_name, product_name) overriding system value values (${b!.id}, 'Bea again', 'Bell II')`;
    await client.orders.update.mutate({ id: a!.id, status: 'delivered' });

    const { context, page } = await openLivePage(browser(), server.url);
    const mismatches = await watchCountsAgainstTable(page);
    await travelTo(page, deletedAt);
    await expect.poll(() => travelPosition(page), WAIT).toBe(deletedAt);
    let log = await wholeLog(server);
    const atDelete = replay(log, deletedAt);
    expect(atDelete.some((r) => r.id === b!.id)).toBe(false);
    await expect.poll(() => pageRows(page), WAIT).toEqual(atDelete);
    expect(await pageCounts(page)).toEqual(tally(atDelete.map((r) => r.status)));
    // The chart too: the hour up to that moment, without what came after it.
    await page.getByText('Numbers per minute').click();
    await page.getByTestId('flow-summary').filter({ hasText: 'up to the moment shown' }).waitFor();
    await expect.poll(() => chartNumbers(page), WAIT).toEqual(flowPerMinute(log, deletedAt));

    // One change forward: the order comes back under its old id, as the new order it is.
    const next = log.find((e) => BigInt(e.id) > BigInt(deletedAt))!;
    await page.getByRole('button', { name: 'Next change ▶' }).click();
    await expect.poll(() => travelPosition(page), WAIT).toBe(next.id);
    await expect.poll(() => pageRows(page), WAIT).toEqual(replay(log, next.id));
    await expect.poll(() => chartNumbers(page), WAIT).toEqual(flowPerMinute(log, next.id));
    expect((await pageRows(page)).find((r) => r.id === b!.id)?.customerName).toBe('Bea again');
    await page.getByTestId('travel-step').filter({ hasText: `Order ${b!.id}` }).waitFor();

    // Changes made meanwhile do not move the past; the live copy takes them all the same.
    await client.orders.create.mutate({ customerName: 'Dee', productName: 'Drum' });
    await server.sql`update orders set status = 'cancelled' where id = ${c!.id}`;
    await page.getByRole('button', { name: '◀ Previous change' }).click();
    await expect.poll(() => travelPosition(page), WAIT).toBe(deletedAt);
    await expect.poll(() => pageRows(page), WAIT).toEqual(atDelete);
    expect(await pageCounts(page)).toEqual(tally(atDelete.map((r) => r.status)));
    await expect.poll(() => chartNumbers(page), WAIT).toEqual(flowPerMinute(log, deletedAt));
    // The last day up to then, per hour, and back.
    await page.getByRole('button', { name: 'Last day' }).click();
    await page.getByText('Numbers per hour').waitFor();
    await expect.poll(() => chartNumbers(page), WAIT).toEqual(flowPerMinute(log, deletedAt, 3_600_000));
    await page.getByRole('button', { name: 'Last hour' }).click();
    await expect.poll(() => chartNumbers(page), WAIT).toEqual(flowPerMinute(log, deletedAt));

    // An order's history on the same timeline: the board can be shown right after any change.
    log = await wholeLog(server);
    await page.getByRole('button', { name: `History of order ${a!.id}` }).click();
    const history = page.getByRole('dialog', { name: `Order ${a!.id} history` });
    await history.locator('[data-when="later"]').first().waitFor();
    const shipped = log.find((e) => e.orderId === a!.id && e.changes?.status?.to === 'shipped')!;
    await history.getByRole('button', { name: `Show the board right after position ${shipped.id}` }).click();
    await expect.poll(() => travelPosition(page), WAIT).toBe(shipped.id);
    await expect.poll(() => pageRows(page), WAIT).toEqual(replay(log, shipped.id));

    await page.getByRole('button', { name: 'Back to live' }).click();
    await page.getByTestId('travel-status').waitFor({ state: 'detached' });
    await expectPageEqualsDatabase(page, server.sql);
    expect((await pageRows(page)).map((r) => r.customerName)).toContain('Dee');

    // A time of day instead of a position: after every change so far, it is the log's head.
    const [{ head }] = await server.sql<[{ head: string }]>`select max(id)::text as head from order_events`;
    const open = page.getByRole('button', { name: 'See the board at an earlier moment' });
    if (await open.isVisible()) await open.click();
    await page.locator('#travel-time').fill('2099-01-01T00:00:00');
    await page.getByRole('button', { name: 'Go', exact: true }).click();
    await expect.poll(() => travelPosition(page), WAIT).toBe(head);
    await expect.poll(() => pageRows(page), WAIT).toEqual(await databaseRows(server.sql));
    await page.getByRole('button', { name: 'Back to live' }).click();
    expect(await mismatches()).toEqual([]);
    await context.close();
  });

  test('after a resync the counts are exact again, and a pruned moment is refused with a clear message', async ({ server }) => {
    const client = server.client();
    const { context, page } = await openLivePage(browser(), server.url);
    const mismatches = await watchCountsAgainstTable(page);
    await expectPageEqualsDatabase(page, server.sql);

    // Away while the log is pruned past the page's position (by EVENT_RETENTION's pruner, told to keep nothing).
    await context.setOffline(true);
    server.drills.dropWebSockets();
    await page.getByTestId('connection-status').filter({ hasText: 'Offline' }).waitFor();
    await server.sql`update orders set status = 'confirmed' where status = 'pending'`;
    await client.orders.create.mutate({ customerName: 'Late', productName: 'Comer', status: 'shipped' });
    const database = createDatabase(server.app.databaseUrl);
    const pruned = await pruneEventBatch(database.db, 0, 100_000);
    await database.sql.end();
    expect(pruned.deleted).toBeGreaterThan(0);
    await context.setOffline(false);
    await page.getByTestId('resynced').waitFor({ timeout: 20_000 });
    await expectPageEqualsDatabase(page, server.sql);
    await server.sql`update orders set status = 'delivered' where customer_name = 'Late'`;
    await expectPageEqualsDatabase(page, server.sql);

    await travelTo(page, '1');
    await page.getByTestId('travel-error').filter({ hasText: /position 1 cannot be shown: .+ Pick a later moment/ }).waitFor();
    expect(await page.getByTestId('travel-status').count()).toBe(0);
    await expectPageEqualsDatabase(page, server.sql);
    expect(await mismatches()).toEqual([]);
    await context.close();
  });
});
