import { afterAll, beforeAll } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type postgres from 'postgres';

/** Debian's Chromium; Playwright's own download is never used (see .ci/run). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A page of its own (own context, so going offline affects only it), loaded and live. */
export async function openLivePage(browser: Browser, url: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(url);
  await liveStatus(page).waitFor();
  await page.getByTestId('orders-count').filter({ hasNotText: 'Loading' }).waitFor();
  return { context, page };
}

/**
 * A page of its own, not loaded yet, that records every Content-Security-Policy violation:
 * the `securitypolicyviolation` events the document fires and the console messages Chromium
 * logs for them (those also cover violations before the page's own script runs).
 */
export async function openWatchedPage(browser: Browser): Promise<{ context: BrowserContext; page: Page; cspViolations(): Promise<string[]> }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const logged: string[] = [];
  page.on('console', (message) => {
    if (/content security policy/i.test(message.text())) logged.push(`console: ${message.text()}`);
  });
  // Injected by the browser before any of the page's scripts, so CSP does not apply to it.
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (e) => {
      seen.push(`event: ${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`);
    });
  });
  return {
    context,
    page,
    async cspViolations() {
      const events = await page.evaluate(() => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? []);
      return [...logged, ...events];
    },
  };
}

export const liveStatus = (page: Page) => page.getByTestId('connection-status').filter({ hasText: /^Live$/ });

export type Row = { id: string; status: string; version: number; customerName: string; productName: string };

/** The rows as the page shows them, in table order. */
export function pageRows(page: Page): Promise<Row[]> {
  return page.$$eval('[data-testid="order-row"]', (trs) =>
    trs.map((tr) => {
      const cells = tr.querySelectorAll('td');
      return {
        id: tr.getAttribute('data-order-id') ?? '',
        status: tr.querySelector('select')?.value ?? '',
        version: Number(tr.getAttribute('data-version')),
        customerName: cells[0]?.textContent ?? '',
        productName: cells[1]?.textContent ?? '',
      };
    }),
  );
}

/** The same fields read straight from the database, newest id first like the page's default sort. */
export async function databaseRows(sql: postgres.Sql): Promise<Row[]> {
  const rows = await sql<Array<{ id: string; status: string; version: number; customer_name: string; product_name: string }>>`
    select id::text, status, version, customer_name, product_name from orders order by orders.id desc`;
  return rows.map((r) => ({ id: r.id, status: r.status, version: r.version, customerName: r.customer_name, productName: r.product_name }));
}

export const row = (page: Page, id: string) => page.locator(`[data-testid="order-row"][data-order-id="${id}"]`);

/** One browser for the test file: launched before its tests, closed after them. */
export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error('the browser is not launched yet');
    return browser;
  };
}
