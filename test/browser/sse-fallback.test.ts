import { describe, expect, vi } from 'vitest';
import { test } from '../support/server.ts';
import { databaseRows, liveStatus, openWatchedPage, pageRows, row, useBrowser } from './browser.ts';

const browser = useBrowser();

describe('a page where WebSockets are blocked', () => {
  test('falls back to Server-Sent Events and runs live, resuming after a dropped stream', async ({ server }) => {
    const writer = server.client();
    const first = await writer.orders.create.mutate({ customerName: 'Ada', productName: 'Loom' });

    const { context, page, cspViolations } = await openWatchedPage(browser());
    // As a proxy that refuses WebSockets would: every socket to /trpc is closed at once,
    // before the server ever sees it.
    let blocked = 0;
    await page.routeWebSocket(/\/trpc/, (ws) => {
      blocked++;
      ws.close({ code: 1008, reason: 'WebSockets are not allowed here' });
    });
    await page.goto(server.url);
    await liveStatus(page).waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('connection-status').getAttribute('data-transport')).toBe('sse');
    expect(blocked).toBeGreaterThan(0);
    await row(page, first.id).waitFor();

    // Live: a change made elsewhere arrives; a change made here is confirmed by its event.
    const second = await writer.orders.create.mutate({ customerName: 'Grace', productName: 'Compiler' });
    await row(page, second.id).waitFor();
    await row(page, first.id).locator('select').selectOption('shipped');
    await row(page, first.id).and(page.locator('[data-version="2"]:not([data-mark="pending"])')).waitFor();

    // The stream is cut; changes made meanwhile arrive once it has resumed, each once.
    expect(server.drills.dropEventStreams()).toBeGreaterThan(0);
    await server.sql`update orders set status = 'delivered' where id = ${second.id}`;
    await server.sql`insert into orders (customer_name, product_name) values ('Linus', 'Kernel')`;
    const expected = await databaseRows(server.sql);
    await vi.waitFor(async () => expect(await pageRows(page)).toEqual(expected), { timeout: 20_000, interval: 50 });
    await liveStatus(page).waitFor();
    expect(await page.getByTestId('connection-status').getAttribute('data-transport')).toBe('sse');
    // Under the server's Content-Security-Policy (connect-src 'self') all the same.
    expect(await cspViolations()).toEqual([]);
    await context.close();
  });
});
