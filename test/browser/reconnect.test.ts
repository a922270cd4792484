import { describe, expect, vi } from 'vitest';
import { test } from '../support/server.ts';
import { databaseRows, useBrowser, liveStatus, openLivePage, pageRows, row } from './browser.ts';

const browser = useBrowser();

describe('a page whose connection drops', () => {
  test('reconnects by itself, catches up exactly the changes it missed, and says how many', async ({ server }) => {
    const client = server.client();
    const seeded = await client.orders.createMany.mutate({
      orders: Array.from({ length: 60 }, (_, i) => ({ customerName: `Customer ${i}`, productName: `Product ${i % 13}` })),
    });
    const { context, page } = await openLivePage(browser(), server.url);
    await vi.waitFor(async () => expect(await pageRows(page)).toHaveLength(60));
    const [{ head }] = await server.sql<[{ head: string }]>`select coalesce(max(id), 0)::text as head from order_events`;

    // The network goes, and the server cuts the page's socket. The page cannot reconnect
    // until the network is back, so every change below is one it misses.
    await context.setOffline(true);
    server.drills.dropWebSockets();
    await page.getByTestId('connection-status').filter({ hasText: 'Offline' }).waitFor();

    // A change tried while offline fails, and the user is told; nothing is written.
    const victim = seeded[0]!;
    await row(page, victim.id).locator('select').selectOption('shipped');
    await page.getByTestId('notice').filter({ hasText: 'Could not reach the server, so nothing was saved' }).waitFor();
    expect(await row(page, victim.id).locator('select').inputValue()).toBe('pending');
    expect((await server.sql`select status from orders where id = ${victim.id}`)[0]?.status).toBe('pending');

    // 200 changes while the page is away: 60 creates, 100 updates (two to each of 50
    // orders) and 40 deletes.
    await client.orders.createMany.mutate({
      orders: Array.from({ length: 60 }, (_, i) => ({ customerName: `Late ${i}`, productName: 'Backorder' })),
    });
    const toUpdate = seeded.slice(0, 50).map((o) => o.id);
    const toDelete = seeded.slice(20, 60).map((o) => o.id);
    await server.sql`update orders set status = 'confirmed' where id in ${server.sql(toUpdate)}`;
    await server.sql`update orders set product_name = product_name || ' (gift wrapped)' where id in ${server.sql(toUpdate)}`;
    await server.sql`delete from orders where id in ${server.sql(toDelete)}`;
    const missed = await server.logAfter(head);
    expect(missed).toHaveLength(200);

    // The network returns: the page reconnects on its own and replays what it missed.
    await context.setOffline(false);
    await liveStatus(page).waitFor({ timeout: 20_000 });
    await page.getByTestId('caught-up').filter({ hasText: 'Caught up 200 missed changes' }).waitFor({ timeout: 20_000 });

    // Exactly the database's rows, in place, none twice.
    const expected = await databaseRows(server.sql);
    expect(expected).toHaveLength(80);
    await vi.waitFor(async () => expect(await pageRows(page)).toEqual(expected), { timeout: 10_000, interval: 50 });
    const ids = (await pageRows(page)).map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    await expect.poll(() => page.getByTestId('activity-feed').innerText()).toMatch(new RegExp(`^Order ${missed.at(-1)!.orderId} deleted`));

    // And it is live again: a change after the reconnect still arrives.
    await server.sql`update orders set status = 'shipped' where id = ${victim.id}`;
    await row(page, victim.id).and(page.locator('[data-version="4"]')).waitFor();
    await server.disconnect(client);
  });
});
