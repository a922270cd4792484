import { describe, expect, vi } from 'vitest';
import type { Page } from 'playwright-core';
import { test } from '../support/server.ts';
import { databaseRows, useBrowser, openLivePage, pageRows, row } from './browser.ts';

const browser = useBrowser();

/** Waits until the page shows exactly what the database holds. */
async function expectMatchesDatabase(page: Page, sql: Parameters<typeof databaseRows>[0]) {
  await vi.waitFor(async () => expect(await pageRows(page)).toEqual(await databaseRows(sql)), { timeout: 10_000, interval: 50 });
}

describe('two pages watching the same orders', () => {
  test('a change made anywhere shows up on both pages, in place', async ({ server }) => {
    const { page: a } = await openLivePage(browser(), server.url);
    const { page: b } = await openLivePage(browser(), server.url);

    // Created in page A: appears in page B.
    await a.locator('#create-customerName').fill('Ada Lovelace');
    await a.locator('#create-productName').fill('Analytical engine');
    await a.locator('#create-status').selectOption('confirmed');
    await a.getByRole('button', { name: 'Create order' }).click();
    await vi.waitFor(async () => expect(await server.sql`select 1 from orders where customer_name = 'Ada Lovelace'`).toHaveLength(1));
    const [{ id }] = await server.sql<[{ id: string }]>`select id::text from orders where customer_name = 'Ada Lovelace'`;
    await row(b, id).waitFor();
    expect(await a.locator('#create-customerName').inputValue()).toBe(''); // the form is ready for the next one
    expect(await row(b, id).locator('select').inputValue()).toBe('confirmed');

    // Updated over the seed's REST API: both pages show it in the same row.
    const res = await fetch(`${server.url}/api/orders/${id}`, { method: 'POST', body: JSON.stringify({ status: 'shipped' }) });
    expect(res.status).toBe(200);
    for (const page of [a, b]) await row(page, id).and(page.locator('[data-version="2"]')).waitFor();
    for (const page of [a, b]) expect(await row(page, id).locator('select').inputValue()).toBe('shipped');

    // Updated with raw SQL, as someone at a psql prompt would.
    await server.sql`update orders set status = 'delivered' where id = ${id}`;
    for (const page of [a, b]) await row(page, id).and(page.locator('[data-version="3"]')).waitFor();
    for (const page of [a, b]) expect(await row(page, id).locator('select').inputValue()).toBe('delivered');
    await expect.poll(() => b.getByTestId('activity-feed').innerText()).toContain(`Order ${id}: shipped → delivered`);

    // Inserted with raw SQL.
    const [inserted] = await server.sql<[{ id: string }]>`
      insert into orders (customer_name, product_name) values ('Grace Hopper', 'Compiler') returning id::text`;
    for (const page of [a, b]) await row(page, inserted.id).waitFor();

    // Status changed inline in page B: page A follows.
    await row(b, inserted.id).locator('select').selectOption('cancelled');
    await row(a, inserted.id).and(a.locator('[data-version="2"]')).waitFor();
    expect(await row(a, inserted.id).locator('select').inputValue()).toBe('cancelled');

    // Deleted in page A after confirming: gone from page B too.
    await row(a, id).getByRole('button', { name: `Delete order ${id}` }).click();
    const dialog = a.getByRole('dialog', { name: `Delete order ${id}?` });
    await dialog.getByRole('button', { name: 'Delete order' }).click();
    await row(b, id).waitFor({ state: 'detached' });
    await expect.poll(() => a.getByTestId('activity-feed').innerText()).toContain(`Order ${id} deleted`);

    // Each page shows every order once, exactly as stored.
    await expectMatchesDatabase(a, server.sql);
    await expectMatchesDatabase(b, server.sql);

    // The history of the deleted order is still there: every step, who made it.
    await b.getByTestId('activity-feed').getByRole('button', { name: `Order ${id} deleted, show history` }).click();
    const history = b.getByRole('dialog', { name: `Order ${id} history` });
    await history.getByRole('listitem').nth(3).waitFor();
    const lines = await history.getByRole('listitem').allInnerTexts();
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/created[\s\S]*by anonymous/i);
    expect(lines[1]).toMatch(/status: confirmed → shipped[\s\S]*by anonymous/);
    expect(lines[2]).toMatch(/status: shipped → delivered[\s\S]*by sql:/);
    expect(lines[3]).toMatch(/deleted[\s\S]*by anonymous/i);
  });
});
