import { describe, expect } from 'vitest';
import { test } from '../support/server.ts';
import { useBrowser, liveStatus, openWatchedPage, row } from './browser.ts';

const browser = useBrowser();

describe('Content-Security-Policy', () => {
  test("the page loads and works under the server's policy without a single violation", async ({ server }) => {
    const response = await fetch(server.url);
    expect(response.headers.get('content-security-policy')).toContain("style-src 'self'");

    const { page, cspViolations } = await openWatchedPage(browser());
    await page.goto(server.url);
    await liveStatus(page).waitFor();
    await page.getByTestId('orders-count').filter({ hasNotText: 'Loading' }).waitFor();

    // Draw what the page can draw: a new row (with its highlight), the feed, a dialog.
    await page.locator('#create-customerName').fill('Ada');
    await page.locator('#create-productName').fill('Loom');
    await page.getByRole('button', { name: 'Create order' }).click();
    await page.getByTestId('order-row').filter({ hasText: 'Ada' }).waitFor();
    // Shown at once (optimistic); written when the server answers.
    await expect.poll(async () => (await server.sql`select 1 from orders where customer_name = 'Ada'`).length).toBe(1);
    const [created] = await server.sql<[{ id: string }]>`select id::text from orders where customer_name = 'Ada'`;
    await row(page, created.id).getByRole('button', { name: `History of order ${created.id}` }).click();
    await page.getByRole('dialog', { name: `Order ${created.id} history` }).getByRole('listitem').first().waitFor();
    await page.getByTestId('activity-feed').getByRole('listitem').first().waitFor();

    expect(await cspViolations()).toEqual([]);

    // The watcher itself works: an inline style attribute set by script is reported.
    await page.evaluate(() => document.body.setAttribute('style', 'outline: 1px solid red'));
    await expect.poll(async () => (await cspViolations()).length, { timeout: 5_000 }).toBeGreaterThan(0);
  });
});
