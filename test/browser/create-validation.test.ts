import { describe, expect } from 'vitest';
import { test } from '../support/server.ts';
import { rowCounts } from '../support/row-counts.ts';
import { useBrowser, openLivePage, row } from './browser.ts';

const browser = useBrowser();

const counts = rowCounts;

describe('creating an order', () => {
  test("shows the server's validation messages at the fields and writes nothing", async ({ server }) => {
    const { page } = await openLivePage(browser(), server.url);
    const customer = page.getByRole('textbox', { name: 'Customer' });
    const product = page.getByRole('textbox', { name: 'Product' });
    const create = page.getByRole('button', { name: 'Create order' });

    // Whitespace only is empty once trimmed: the server says so, next to the field.
    await customer.fill('   ');
    await product.fill('Desk lamp');
    await create.click();
    const customerError = page.locator('#create-customerName-error');
    await customerError.waitFor();
    expect(await customerError.innerText()).toBe('must not be empty');
    expect(await customer.getAttribute('aria-invalid')).toBe('true');
    expect(await customer.getAttribute('aria-describedby')).toBe('create-customerName-error');
    expect(await page.locator('#create-productName-error').count()).toBe(0);
    // Focus goes to the field to fix.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('create-customerName');
    expect(await counts(server.sql)).toEqual({ orders: 0, events: 0 });

    // Both empty: both fields get their message.
    await customer.fill('');
    await product.fill('');
    await create.click();
    await page.locator('#create-productName-error').waitFor();
    expect(await page.locator('#create-productName-error').innerText()).toBe('must not be empty');
    expect(await customerError.innerText()).toBe('must not be empty');
    expect(await counts(server.sql)).toEqual({ orders: 0, events: 0 });

    // Fixed: it is created, the messages go away, the row appears.
    await customer.fill('Linus');
    await product.fill('Desk lamp');
    await create.click();
    await customerError.waitFor({ state: 'detached' });
    expect(await page.locator('#create-productName-error').count()).toBe(0);
    // The form clears at once (the create is optimistic); the row is written when the server answers.
    await expect.poll(async () => (await server.sql`select 1 from orders where customer_name = 'Linus'`).length).toBe(1);
    const [created] = await server.sql<[{ id: string }]>`select id::text from orders where customer_name = 'Linus'`;
    await row(page, created.id).waitFor();
    expect(await counts(server.sql)).toEqual({ orders: 1, events: 1 });
  });
});
