import { describe, expect } from 'vitest';
import type { Page, Route } from 'playwright-core';
import { test } from '../support/server.ts';
import { openLivePage, row, useBrowser } from './browser.ts';

const browser = useBrowser();

/**
 * Delays the tRPC HTTP calls to `procedure` until `release()`. `'response'`: each request
 * reaches the server at once and its answer waits, so the server has done the work (and its
 * event may be in over the WebSocket) while the page still waits. `'request'`: the request
 * itself waits, so others can change the order before it arrives.
 */
async function hold(page: Page, procedure: string, what: 'request' | 'response') {
  const held: Array<() => Promise<void>> = [];
  let holding = true;
  await page.route(new RegExp(`/trpc/${procedure.replace('.', '\\.')}\\b`), async (route: Route) => {
    let answer = () => route.continue();
    if (what === 'response') {
      const response = await route.fetch();
      answer = () => route.fulfill({ response });
    }
    if (holding) held.push(answer);
    else await answer();
  });
  return {
    count: () => held.length,
    async release() {
      holding = false;
      for (const answer of held.splice(0)) await answer();
    },
  };
}

const pendingRows = (page: Page) => page.locator('[data-testid="order-row"][data-mark="pending"]');

describe('changes made on the page', () => {
  test('an optimistic create shows at once, marked pending, and is confirmed by its event', async ({ server }) => {
    const { page } = await openLivePage(browser(), server.url);
    const create = await hold(page, 'orders.create', 'response');

    await page.locator('#create-customerName').fill('  Ada ');
    await page.locator('#create-productName').fill('Loom');
    await page.getByRole('button', { name: 'Create order' }).click();

    // Shown at once, before the server has answered, and marked as not yet saved.
    const shown = page.getByTestId('order-row').filter({ hasText: 'Ada' });
    await shown.and(pendingRows(page)).waitFor();
    expect(await shown.getByTestId('pending-note').innerText()).toBe('Saving…');
    expect(await page.locator('#create-customerName').inputValue()).toBe('');

    // The server has written it, and its event may be in; the answer is still held: one row, pending.
    await expect.poll(() => server.sql`select id::text from orders where customer_name = 'Ada'`.then((r) => r.length)).toBe(1);
    const [{ id }] = await server.sql<[{ id: string }]>`select id::text from orders where customer_name = 'Ada'`;
    await expect.poll(() => create.count()).toBe(1);
    await page.getByTestId('activity-feed').getByText(`Order ${id} created`).waitFor();
    expect(await shown.count()).toBe(1);
    expect(await shown.getAttribute('data-mark')).toBe('pending');

    await create.release();
    await row(page, id).and(page.locator(':not([data-mark="pending"])')).waitFor();
    expect(await page.getByTestId('order-row').filter({ hasText: 'Ada' }).count()).toBe(1);
    expect(await row(page, id).getByTestId('pending-note').count()).toBe(0);
  });

  test("a change the server refuses is rolled back, with the server's message", async ({ server }) => {
    const writer = server.client();
    const order = await writer.orders.create.mutate({ customerName: 'Grace', productName: 'Compiler' });
    const { page } = await openLivePage(browser(), server.url);
    await row(page, order.id).waitFor();
    const update = await hold(page, 'orders.update', 'request');

    // The page changes the status of version 1; before its request arrives, someone else
    // changes the order, so the server refuses the page's change as stale (CONFLICT).
    await row(page, order.id).locator('select').selectOption('shipped');
    await row(page, order.id).and(pendingRows(page)).waitFor();
    await server.sql`update orders set product_name = 'Compiler, 2nd ed.' where id = ${order.id}`;
    await row(page, order.id).and(page.locator('[data-version="2"]')).waitFor();
    // Still shown as the page's change, pending, over the newer row.
    expect(await row(page, order.id).locator('select').inputValue()).toBe('shipped');
    expect(await row(page, order.id).getAttribute('data-mark')).toBe('pending');

    await update.release();
    const notice = page.getByTestId('notice');
    await notice.filter({ hasText: `Order ${order.id} was not changed: order ${order.id} is at version 2, not the expected 1` }).waitFor();
    await row(page, order.id).and(page.locator(':not([data-mark="pending"])')).waitFor();
    expect(await row(page, order.id).locator('select').inputValue()).toBe('pending');
    expect(await row(page, order.id).getAttribute('data-version')).toBe('2');
    expect((await server.sql`select status from orders where id = ${order.id}`)[0]?.status).toBe('pending');

    // A delete the server refuses comes back too: it was struck through, then restored.
    const del = await hold(page, 'orders.delete', 'request');
    await row(page, order.id).getByRole('button', { name: `Delete order ${order.id}` }).click();
    await page.getByTestId('confirm-delete').getByRole('button', { name: 'Delete order' }).click();
    await row(page, order.id).and(page.locator('[data-mark="deleting"]')).waitFor();
    expect(await row(page, order.id).getByTestId('pending-note').innerText()).toBe('Deleting…');
    await server.sql`update orders set customer_name = 'Grace H.' where id = ${order.id}`;
    await del.release();
    await notice.filter({ hasText: `Order ${order.id} was not deleted: order ${order.id} is at version 3, not the expected 2` }).waitFor();
    await row(page, order.id).and(page.locator(':not([data-mark])')).waitFor();
    expect(await server.sql`select 1 from orders where id = ${order.id}`).toHaveLength(1);
  });

  test('closing the tab with a change unconfirmed asks first', async ({ server }) => {
    const writer = server.client();
    const order = await writer.orders.create.mutate({ customerName: 'Linus', productName: 'Kernel' });
    const { page } = await openLivePage(browser(), server.url);
    await row(page, order.id).waitFor();
    const update = await hold(page, 'orders.update', 'response');
    await row(page, order.id).locator('select').selectOption('confirmed');
    await row(page, order.id).and(pendingRows(page)).waitFor();

    const asked = page.waitForEvent('dialog');
    await page.close({ runBeforeUnload: true });
    const dialog = await asked;
    expect(dialog.type()).toBe('beforeunload');
    await dialog.dismiss(); // stay
    expect(page.isClosed()).toBe(false);

    // Once confirmed, the tab closes without asking.
    await update.release();
    await row(page, order.id).and(page.locator('[data-version="2"]:not([data-mark="pending"])')).waitFor();
    let askedAgain = false;
    page.on('dialog', (d) => {
      askedAgain = true;
      void d.accept();
    });
    const closed = page.waitForEvent('close');
    await page.close({ runBeforeUnload: true });
    await closed;
    expect(askedAgain).toBe(false);
  });
});
