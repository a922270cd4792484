import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startApp, type App } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { createTestDatabase } from '../support/server.ts';
import { TcpRelay } from '../support/tcp-relay.ts';
import { openLivePage, useBrowser } from './browser.ts';

// The page's create whose commit is in doubt: the server reaches PostgreSQL through a relay;
// another session holds the log's position lock (drizzle/0001), so the create waits at its
// commit; the relay drops the connection and refuses new ones, so the server cannot find out
// and answers "commit outcome unknown". The page sends the create again with the same
// idempotency key until it gets the order: one order, on the page and in the table.
const POSITION_LOCK = 7305861045390211n;
const browser = useBrowser();

let database: { url: string; drop(): Promise<void> };
let relay: TcpRelay;
let app: App;
let sql: postgres.Sql;

beforeAll(async () => {
  database = await createTestDatabase();
  relay = await TcpRelay.start(database.url);
  app = await startApp(
    loadConfig({ DATABASE_URL: relay.via(database.url), PORT: '0', HOST: '127.0.0.1' }),
    createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
  );
  sql = postgres(database.url, { max: 3, onnotice: () => {} });
});

afterAll(async () => {
  await app?.close();
  await relay?.close();
  await sql?.end();
  await database?.drop();
});

describe('a create on the page whose outcome is unknown', () => {
  test('is sent again with its idempotency key, and ends as exactly one order', async () => {
    const { page } = await openLivePage(browser(), app.url);
    const creates: Array<{ status: number; body: string; key: string | undefined }> = [];
    page.on('response', async (response) => {
      if (!response.url().includes('/trpc/orders.create')) return;
      // The page batches its calls: the body is { "0": input }.
      const sent = JSON.parse(response.request().postData() ?? '{}') as Record<string, { idempotencyKey?: string }>;
      creates.push({ status: response.status(), body: await response.text(), key: sent['0']?.idempotencyKey });
    });

    const holder = await sql.reserve();
    await holder`select pg_advisory_lock(${POSITION_LOCK.toString()}::bigint)`;
    await page.locator('#create-customerName').fill('Doubtful');
    await page.locator('#create-productName').fill('Commit');
    await page.getByRole('button', { name: 'Create order' }).click();
    await expect
      .poll(
        async () =>
          (await sql<[{ n: number }]>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event = 'advisory'`)[0].n,
        { timeout: 10_000, interval: 10 },
      )
      .toBe(1);
    relay.refuse();
    relay.drop();

    // The server could not ask, and said so; the page keeps the row, pending, and asks again.
    await expect.poll(() => creates.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
    expect(creates[0]!.status).toBe(500);
    expect(creates[0]!.body).toMatch(/commit outcome unknown/);
    const shown = page.getByTestId('order-row').filter({ hasText: 'Doubtful' });
    expect(await shown.getAttribute('data-mark')).toBe('pending');

    // The first attempt was only waiting: it commits once the lock is free.
    relay.accept();
    await holder`select pg_advisory_unlock(${POSITION_LOCK.toString()}::bigint)`;
    holder.release();
    await shown.and(page.locator(':not([data-mark="pending"])')).waitFor({ timeout: 60_000 });

    const rows = await sql<{ id: string }[]>`select id::text from orders where customer_name = 'Doubtful'`;
    expect(rows).toHaveLength(1);
    expect(await shown.count()).toBe(1);
    expect(await shown.getAttribute('data-order-id')).toBe(rows[0]!.id);
    // Every attempt carried the same key, and the last was answered with the one order.
    expect(new Set(creates.map((c) => c.key)).size).toBe(1);
    expect(creates[0]!.key).toBeTruthy();
    expect(creates.at(-1)!.status).toBe(200);
    expect(creates.at(-1)!.body).toContain(`"id":"${rows[0]!.id}"`);
  });
});
