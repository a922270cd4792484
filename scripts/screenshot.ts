/**
 * Screenshots of the live orders page for the README:
 *
 *   npm run screenshot        # docs/screenshot.png (desktop), docs/screenshot-phone.png,
 *                             # docs/screenshot-time-travel.png (the board in the past)
 *
 * Starts the server in-process on an embedded PostgreSQL in a temporary directory, fills it
 * with a shop's last hour of orders, opens the built page (run `npm run build:web` first) in
 * Debian's headless Chromium, makes some changes while it watches, and saves the screenshots.
 * The desktop one also shows two of the page's own changes not yet confirmed by the server
 * (their requests held back): a status change and a delete, each marked pending.
 *
 * The hour is made in seconds, then spread out: the sample events' commit times (`at`) are
 * set back over the last hour by hand, in SQL, so that the flow chart has an hour to draw.
 * Only this script's throw-away database is touched that way.
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import postgres from 'postgres';
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
const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
// The first server only fills the database; its listener sees the log rewritten under it (see
// the header) and says so, rightly: its warnings are not shown.
let app = await startApp(config, createLogger('error'));
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });

try {
  let client = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${app.url}/trpc` })] });
  const pick = <T>(list: readonly T[], i: number) => list[i % list.length]!;
  let sql = postgres(app.databaseUrl, { max: 1, onnotice: () => {} });

  // A shop's last hour: orders in waves, most of them moved along a step or two.
  const created: Awaited<ReturnType<typeof client.orders.createMany.mutate>> = [];
  for (let wave = 0; wave < 12; wave++) {
    const size = [3, 4, 6, 5, 9, 14, 8, 6, 7, 10, 5, 4][wave]!;
    const orders = await client.orders.createMany.mutate({
      orders: Array.from({ length: size }, (_, i) => ({ customerName: pick(customers, (created.length + i) * 7 + 3), productName: pick(products, (created.length + i) * 5 + 1) })),
    });
    created.push(...orders);
    for (const [i, order] of created.slice(-2 * size).entries()) {
      if ((i + wave) % 3 === 0) continue;
      const next = statuses[Math.min(statuses.indexOf(order.status) + 1 + ((i + wave) % 2), 3)]!;
      const updated = await client.orders.update.mutate({ id: order.id, status: (i * 5 + wave) % 17 === 3 ? 'cancelled' : next });
      Object.assign(order, updated);
    }
  }
  // Spread the log over the hour before now (see the header), oldest first, as committed; each
  // event's order and each row carry the times of their own events, as if written then. The
  // rows' times are set with triggers off (session_replication_role), so this appends nothing.
  await sql.begin(async (tx) => {
    await tx`
      with spread as (select id, now() - row_number() over (order by id desc) * interval '14 seconds' - interval '20 seconds' as at from order_events),
      stamped as (
        select e.id, s.at, e.order_id, e.type,
               to_char(s.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as iso,
               first_value(to_char(s.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) over (partition by e.order_id order by e.id) as created_iso
          from order_events e join spread s using (id))
      update order_events e
         set at = stamped.at,
             "order" = e."order" || jsonb_build_object('updatedAt', stamped.iso, 'createdAt', stamped.created_iso)
        from stamped where stamped.id = e.id`;
    await tx`set local session_replication_role = replica`;
    await tx`
      update orders o set created_at = (e."order"->>'createdAt')::timestamptz, updated_at = (e."order"->>'updatedAt')::timestamptz
        from (select distinct on (order_id) order_id, "order" from order_events order by order_id, id desc) e
       where e.order_id = o.id`;
  });
  // A server started on the spread-out log, as if it had been so all along.
  await sql.end();
  await app.close();
  app = await startApp(config, createLogger('warn'));
  client = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${app.url}/trpc` })] });
  sql = postgres(app.databaseUrl, { max: 1, onnotice: () => {} });

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
    await page.getByTestId('flow-summary').filter({ hasNotText: 'Loading' }).waitFor();
    await page.evaluate(() => window.scrollTo(0, 0));
    await mkdir('docs', { recursive: true });
    await page.screenshot({ path: file, fullPage: false });
    console.log(`saved ${file}`);
  };

  const desktop = await browser.newPage({ viewport: { width: 1360, height: 1180 } });
  await shoot(desktop, 'docs/screenshot.png', created.slice(-12), true);
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await shoot(phone, 'docs/screenshot-phone.png', created.slice(-24, -12));

  // The board half an hour ago, three changes into a replay from there.
  const past = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
  await past.goto(app.url);
  await past.getByTestId('connection-status').filter({ hasText: 'Live' }).waitFor();
  const [{ then }] = await sql<[{ then: string }]>`select max(id)::text as then from order_events where at <= now() - interval '30 minutes'`;
  await past.getByRole('button', { name: 'See the board at an earlier moment' }).click();
  await past.locator('#travel-position').fill(then);
  await past.getByRole('button', { name: 'Go', exact: true }).click();
  await past.getByTestId('travel-status').waitFor();
  for (let step = 1; step <= 3; step++) {
    await past.getByRole('button', { name: 'Next change ▶' }).click();
    await past.getByTestId('travel-step').filter({ hasText: `Change ${step} after` }).waitFor();
  }
  await past.getByTestId('flow-summary').filter({ hasNotText: 'Loading' }).waitFor();
  await past.evaluate(() => window.scrollTo(0, 0));
  await past.screenshot({ path: 'docs/screenshot-time-travel.png', fullPage: false });
  console.log('saved docs/screenshot-time-travel.png');
  await sql.end();
} finally {
  await browser.close();
  await app.close();
  await rm(dataDir, { recursive: true, force: true });
}
