import { describe, expect } from 'vitest';
import type { Page } from 'playwright-core';
import { test } from '../support/server.ts';
import { useBrowser, openLivePage, pageRows, row } from './browser.ts';

const browser = useBrowser();

/** Runs `action` in the page and times it until the next frame has been painted. */
function timeInPage(page: Page, action: string): Promise<number> {
  return page.evaluate(async (code) => {
    const started = performance.now();
    new Function(code)();
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    return performance.now() - started;
  }, action);
}

const setInput = (selector: string, value: string) =>
  `const el = document.querySelector(${JSON.stringify(selector)}); el.value = ${JSON.stringify(value)}; el.dispatchEvent(new Event(el.tagName === 'SELECT' ? 'change' : 'input', { bubbles: true }));`;

describe('5,000 orders', () => {
  test('load, filter, sort and live changes stay quick', async ({ server }) => {
    const client = server.client();
    for (let batch = 0; batch < 5; batch++) {
      await client.orders.createMany.mutate({
        orders: Array.from({ length: 1000 }, (_, i) => ({ customerName: `Customer ${batch * 1000 + i}`, productName: `Product ${i % 97}` })),
      });
    }

    const started = performance.now();
    const { page } = await openLivePage(browser(), server.url);
    await page.getByTestId('orders-count').filter({ hasText: '5,000 orders' }).waitFor();
    const load = performance.now() - started;
    // Only the first rows are in the DOM; the rest are a click away.
    expect(await pageRows(page)).toHaveLength(100);

    const search = await timeInPage(page, setInput('#orders-search', 'customer 4999'));
    expect(await pageRows(page)).toHaveLength(1);
    const clear = await timeInPage(page, setInput('#orders-search', ''));
    const sort = await timeInPage(page, `document.querySelector('th:nth-child(2) button').click()`);
    expect((await pageRows(page))[0]?.customerName).toBe('Customer 0');
    const filter = await timeInPage(page, setInput('#orders-status', 'pending'));
    await timeInPage(page, setInput('#orders-status', ''));

    // A burst of 500 live updates (one transaction) lands and the page keeps up.
    const burstStarted = performance.now();
    await server.sql`update orders set status = 'shipped' where id <= 500`;
    await row(page, '1').and(page.locator('[data-version="2"]')).waitFor();
    await row(page, '1').locator('select[data-status="shipped"]').waitFor();
    const burst = performance.now() - burstStarted;

    console.info(
      `[5,000 orders] load+first render ${load.toFixed(0)} ms; search ${search.toFixed(0)} ms; clear ${clear.toFixed(0)} ms; ` +
        `sort ${sort.toFixed(0)} ms; status filter ${filter.toFixed(0)} ms; 500-event burst visible after ${burst.toFixed(0)} ms`,
    );
    // Generous bounds (CI machines are slow); the log line above has the real numbers.
    expect(load).toBeLessThan(10_000);
    for (const ms of [search, clear, sort, filter]) expect(ms).toBeLessThan(1_000);
    expect(burst).toBeLessThan(5_000);
    await server.disconnect(client);
  });
});
