/**
 * Screenshots of the live orders page for the README:
 *
 *   npm run screenshot        # writes docs/screenshot.png (desktop) and docs/screenshot-phone.png
 *
 * Starts the server in-process on an embedded PostgreSQL in a temporary directory, fills it
 * with a few dozen orders, opens the built page (run `npm run build:web` first) in Debian's
 * headless Chromium, makes some changes while it watches, and saves both screenshots. The
 * desktop one also shows two of the page's own changes not yet confirmed by the server (their
 * requests held back): a status change and a delete, each marked pending.
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { chromium, type Page } from 'playwright-core';
import { startApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { createLogger } from '../server/logger.ts';
import type { AppRouter } from '../server/routers/app.ts';
import type { OrderStatus } from '../shared/order-status.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const customers = ['Amara Okafor', 'Lukas Schmidt', 'Sofia Rossi', 'Hiroshi Tanaka', 'Priya Sharma', 'Mateo García', 'Emma Johansson', 'Noah Williams', 'Chloé Martin', 'Yusuf Demir', 'Ana Silva', 'Liam O’Connor', 'Mei Chen', 'Olivia Brown', 'Kwame Mensah', 'Fatima Zahra'];
const products = ['Espresso machine', 'Standing desk', 'Noise-cancelling headphones', 'Trail running shoes', 'Cast iron skillet', 'Mechanical keyboard', '4K monitor', 'Linen bedding set', 'Road bike helmet', 'Ceramic planter', 'Wool throw blanket', 'Smart thermostat'];
const statuses: OrderStatus[] = ['pending', 'confirmed', 'shipped', 'delivered', 'cancelled'];

const dataDir = await mkdtemp(path.join(tmpdir(), 'live-orders-screenshot-'));
// The embedded server runs as the `postgres` system user when we are root; it must read this.
await chmod(dataDir, 0o755);
const log = createLogger('warn');
const app = await startApp(loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn' }), log);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });

try {
  const client = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${app.url}/trpc` })] });
  const pick = <T>(list: readonly T[], i: number) => list[i % list.length]!;

  // A shop's morning: 36 orders, most of them moved along a step or two.
  const created = await client.orders.createMany.mutate({
    orders: Array.from({ length: 36 }, (_, i) => ({ customerName: pick(customers, i * 7 + 3), productName: pick(products, i * 5 + 1) })),
  });
  for (const [i, order] of created.entries()) {
    const steps = i % 6 === 0 ? 0 : (i * 3) % 4;
    for (let s = 1; s <= steps; s++) await client.orders.update.mutate({ id: order.id, status: statuses[s]! });
    if (i % 11 === 5) await client.orders.update.mutate({ id: order.id, status: 'cancelled' });
  }

  const shoot = async (page: Page, file: string, live: typeof created, showPending = false) => {
    await page.goto(app.url);
    await page.getByTestId('connection-status').filter({ hasText: 'Live' }).waitFor();
    // Changes made while the page watches, so the feed and history have something to show.
    for (const [i, order] of live.entries()) {
      if (i % 4 === 3) await client.orders.delete.mutate({ id: order.id });
      else await client.orders.update.mutate({ id: order.id, status: pick(statuses, i + 2) });
    }
    const fresh = await client.orders.create.mutate({ customerName: file.includes('phone') ? 'Katherine Johnson' : 'Grace Hopper', productName: file.includes('phone') ? 'Slide rule' : 'Compiler handbook', status: 'confirmed' });
    await page.locator(`[data-order-id="${fresh.id}"]`).waitFor();
    await page.locator('tr[data-mark]').first().waitFor({ state: 'detached' });
    if (showPending) {
      // Requests that never reach the server: the changes stay pending for the picture.
      await page.route(/\/trpc\/orders\.(update|delete)\b/, () => {});
      const rows = page.getByTestId('order-row');
      await rows.nth(1).locator('select').selectOption('delivered');
      await rows.nth(3).getByRole('button', { name: /^Delete order/ }).click();
      await page.getByTestId('confirm-delete').getByRole('button', { name: 'Delete order' }).click();
      await page.locator('tr[data-mark="deleting"]').waitFor();
      await page.locator('tr[data-mark="pending"]').waitFor();
    }
    await mkdir('docs', { recursive: true });
    await page.screenshot({ path: file, fullPage: false });
    console.log(`saved ${file}`);
  };

  const desktop = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  await shoot(desktop, 'docs/screenshot.png', created.slice(-12), true);
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await shoot(phone, 'docs/screenshot-phone.png', created.slice(-24, -12));
} finally {
  await browser.close();
  await app.close();
  await rm(dataDir, { recursive: true, force: true });
}
