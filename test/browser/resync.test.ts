import { describe, expect, vi } from 'vitest';
import { test } from '../support/server.ts';
import { databaseRows, liveStatus, openLivePage, pageRows, useBrowser } from './browser.ts';

const browser = useBrowser();

describe('a page whose position the server can no longer serve', () => {
  test('reloads the orders, says it resynced, and goes on live', async ({ server }) => {
    const writer = server.client();
    await writer.orders.createMany.mutate({ orders: Array.from({ length: 5 }, (_, i) => ({ customerName: `C${i}`, productName: 'P' })) });
    const { context, page } = await openLivePage(browser(), server.url);
    await vi.waitFor(async () => expect(await pageRows(page)).toHaveLength(5));

    // Away, while changes are made and the log is pruned past the page's position (as
    // EVENT_RETENTION's pruner does: the events deleted and the mark raised in one transaction).
    await context.setOffline(true);
    server.drills.dropWebSockets();
    await page.getByTestId('connection-status').filter({ hasText: 'Offline' }).waitFor();
    await server.sql`update orders set status = 'cancelled' where id in (select id from orders order by id limit 2)`;
    await server.sql`insert into orders (customer_name, product_name) values ('late', 'comer')`;
    await server.sql.begin(async (tx) => {
      const [{ head }] = await tx<[{ head: string }]>`select max(id)::text as head from order_events`;
      await tx`delete from order_events where id <= ${head}`;
      await tx`update order_events_pruned set through = ${head}`;
    });

    await context.setOffline(false);
    const notice = page.getByTestId('resynced');
    await notice.filter({ hasText: 'the orders were loaded afresh' }).waitFor({ timeout: 20_000 });
    await liveStatus(page).waitFor();
    await vi.waitFor(async () => expect(await pageRows(page)).toEqual(await databaseRows(server.sql)), { timeout: 10_000, interval: 50 });

    // Live from the new snapshot on.
    await server.sql`update orders set status = 'shipped' where customer_name = 'late'`;
    await vi.waitFor(async () => expect(await pageRows(page)).toEqual(await databaseRows(server.sql)), { timeout: 10_000, interval: 50 });
    await notice.getByRole('button', { name: 'Dismiss' }).click();
    await notice.waitFor({ state: 'detached' });

    // The history of an order whose creation was pruned says that it starts later.
    const [late] = await server.sql<[{ id: string }]>`select id::text from orders where customer_name = 'late'`;
    await page.getByRole('button', { name: `History of order ${late.id}` }).click();
    const history = page.getByRole('dialog', { name: `Order ${late.id} history` });
    await history.getByTestId('history-pruned').filter({ hasText: 'Earlier changes are older than the server keeps.' }).waitFor();
    expect(await history.getByRole('listitem').allInnerTexts()).toEqual([expect.stringMatching(/status: pending → shipped/)]);
    await context.close();
  });
});
