import { describe, expect, vi } from 'vitest';
import type { Page } from 'playwright-core';
import { testWithServer } from '../support/server.ts';
import { rowCounts } from '../support/row-counts.ts';
import { useBrowser, liveStatus, openWatchedPage, row } from './browser.ts';

const WRITER = 'till-writes-0123456789abcdef';
const READER = 'rita-reads-0123456789abcdef';
const test = testWithServer({ AUTH_TOKENS: `till:writer:${WRITER},rita:reader:${READER}` });

const browser = useBrowser();

const counts = rowCounts;

const signInForm = (page: Page) => page.getByRole('region', { name: 'Sign in' });
const tokenInput = (page: Page) => page.getByLabel('Access token');

async function signIn(page: Page, token: string) {
  await tokenInput(page).fill(token);
  await signInForm(page).getByRole('button', { name: 'Sign in' }).click();
}

async function waitLoaded(page: Page) {
  await signInForm(page).waitFor({ state: 'detached' });
  await liveStatus(page).waitFor();
  await page.getByTestId('orders-count').filter({ hasNotText: 'Loading' }).waitFor();
}

async function createInPage(page: Page, customerName: string, productName: string) {
  await page.locator('#create-customerName').fill(customerName);
  await page.locator('#create-productName').fill(productName);
  await page.getByRole('button', { name: 'Create order' }).click();
}

const storage = (page: Page) =>
  page.evaluate(() => ({ session: Object.values(sessionStorage), local: Object.values(localStorage) }));

describe('a server that requires access tokens', () => {
  test('asks for a token, refuses a wrong one, lets a writer change and a reader only watch', async ({ server }) => {
    const { page, cspViolations } = await openWatchedPage(browser());
    await page.goto(server.url);

    // No token yet: the sign-in form, and no orders.
    await signInForm(page).getByText('This server requires an access token').waitFor();
    expect(await tokenInput(page).getAttribute('type')).toBe('password');
    expect(await page.getByTestId('orders-table').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);

    // A wrong token: an error at the form, nothing kept.
    await signIn(page, 'not-a-token-of-this-server');
    const rejected = signInForm(page).getByRole('alert').filter({ hasText: 'not accepted' });
    await rejected.waitFor();
    expect(await tokenInput(page).getAttribute('aria-invalid')).toBe('true');
    expect(await storage(page)).toEqual({ session: [], local: [] });

    // The writer's token: the orders load, live; the token is kept for this tab only.
    await signIn(page, WRITER);
    await waitLoaded(page);
    expect(await storage(page)).toEqual({ session: [WRITER], local: [] });
    expect(page.url()).not.toContain(WRITER);

    // A create works and its history names the token: "till".
    await createInPage(page, 'Ada', 'Loom');
    await page.getByTestId('order-row').filter({ hasText: 'Ada' }).waitFor();
    // Shown at once (optimistic); written when the server answers.
    await expect.poll(async () => (await server.sql`select 1 from orders where customer_name = 'Ada'`).length).toBe(1);
    const [ada] = await server.sql<[{ id: string }]>`select id::text from orders where customer_name = 'Ada'`;
    await row(page, ada.id).getByRole('button', { name: `History of order ${ada.id}` }).click();
    const history = page.getByRole('dialog', { name: `Order ${ada.id} history` });
    await history.getByRole('listitem').first().waitFor();
    expect(await history.getByRole('listitem').allInnerTexts()).toEqual([expect.stringMatching(/created[\s\S]*by till\b/i)]);
    await history.getByRole('button', { name: 'Close' }).click();
    await history.waitFor({ state: 'hidden' });

    // Sign out: back to the form, the orders and the token forgotten.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signInForm(page).waitFor();
    expect(await page.getByTestId('order-row').count()).toBe(0);
    expect(await storage(page)).toEqual({ session: [], local: [] });
    expect(await signInForm(page).getByRole('alert').count()).toBe(0);

    // The reader's token: the orders load.
    await signIn(page, READER);
    await waitLoaded(page);
    await row(page, ada.id).waitFor();

    // Changes made by the writer elsewhere arrive live.
    const writer = server.client({ token: WRITER });
    const grace = await writer.orders.create.mutate({ customerName: 'Grace', productName: 'Compiler' });
    await row(page, grace.id).waitFor();
    await writer.orders.update.mutate({ id: grace.id, status: 'shipped' });
    await row(page, grace.id).and(page.locator('[data-version="2"]')).waitFor();
    expect(await row(page, grace.id).locator('select').inputValue()).toBe('shipped');

    // A create is refused: the form says why, and nothing is written.
    const before = await counts(server.sql);
    await createInPage(page, 'Rita', 'Pencil');
    const readOnly = page.getByTestId('create-form').getByRole('alert').filter({ hasText: 'can read but not change orders' });
    await readOnly.waitFor();
    expect(await counts(server.sql)).toEqual(before);
    expect(await server.sql`select 1 from orders where customer_name = 'Rita'`).toHaveLength(0);
    // From then on the form and the row actions are disabled; history stays open to readers.
    expect(await page.getByRole('button', { name: 'Create order' }).isDisabled()).toBe(true);
    expect(await row(page, grace.id).locator('select').isDisabled()).toBe(true);
    expect(await row(page, grace.id).getByRole('button', { name: `Delete order ${grace.id}` }).isDisabled()).toBe(true);
    expect(await row(page, grace.id).getByRole('button', { name: `History of order ${grace.id}` }).isEnabled()).toBe(true);

    // A reload keeps the reader signed in (same tab); a status change is refused at its row.
    await page.reload();
    await waitLoaded(page);
    await row(page, ada.id).locator('select').selectOption('confirmed');
    await page.getByTestId('notice').filter({ hasText: `Order ${ada.id} was not changed` }).filter({ hasText: 'can read but not change orders' }).waitFor();
    await vi.waitFor(async () => expect(await row(page, ada.id).locator('select').inputValue()).toBe('pending'), { timeout: 5_000 });
    expect(await counts(server.sql)).toEqual(before);

    // The history shows who made each change: the writer's token name, and SQL's role.
    await server.sql`update orders set status = 'delivered' where id = ${grace.id}`;
    await row(page, grace.id).and(page.locator('[data-version="3"]')).waitFor();
    await row(page, grace.id).getByRole('button', { name: `History of order ${grace.id}` }).click();
    const graceHistory = page.getByRole('dialog', { name: `Order ${grace.id} history` });
    await graceHistory.getByRole('listitem').nth(2).waitFor();
    const lines = await graceHistory.getByRole('listitem').allInnerTexts();
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/created[\s\S]*by till\b/i);
    expect(lines[1]).toMatch(/status: pending → shipped[\s\S]*by till\b/);
    expect(lines[2]).toMatch(/status: shipped → delivered[\s\S]*by sql:/);

    expect(await cspViolations()).toEqual([]);
  });
});
