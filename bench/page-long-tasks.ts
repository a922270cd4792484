/**
 * The page under a steady stream of changes: how long its longest task runs in Chromium.
 *
 *   npm run bench:page                          # 2,000 orders, 50 changes a second for 20 s
 *   npm run bench:page -- --orders 5000 --rate 50 --seconds 30
 *
 * Starts the server in-process on an embedded PostgreSQL in a temporary directory, fills it
 * with `--orders` orders (one createMany per thousand), opens the built page (run `npm run
 * build:web` first) in Debian's headless Chromium at desktop size with the flow chart on
 * screen, then makes `--rate` changes a second for `--seconds` (through the API, as separate
 * requests: three status changes for each create, spread evenly) while a PerformanceObserver
 * in the page records every long task (over 50 ms, the browser's own definition). Prints the
 * longest, how many there were, and the machine's load, which decides much of the result on a
 * shared 2-core machine. A result, not a test: it exits 0 whatever it measures.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { chromium } from 'playwright-core';
import { startApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { createLogger } from '../server/logger.ts';
import type { AppRouter } from '../server/routers/app.ts';
import { ORDER_STATUSES } from '../shared/order-status.ts';

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '20' },
    /** Also print where the page's main thread spent its time (a CPU profile over the stream). */
    profile: { type: 'boolean', default: false },
    /** Hide part of the page (a CSS selector) to see what it costs: '[data-testid=flow]', '.orders'. */
    hide: { type: 'string' },
  },
});
const ORDERS = Number(values.orders);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);

declare global {
  /** The page's long tasks (ms), recorded by the init script below, read back by the bench. */
  interface Window {
    __longTasks: number[];
  }
}

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const dataDir = await mkdtemp(path.join(tmpdir(), 'live-orders-bench-page-'));
// The embedded server runs as the `postgres` system user when we are root; it must read this.
await chmod(dataDir, 0o755);
const app = await startApp(loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn' }), createLogger('warn'));
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });

try {
  const client = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${app.url}/trpc` })] });
  const ids: string[] = [];
  for (let made = 0; made < ORDERS; made += 1000) {
    const batch = await client.orders.createMany.mutate({
      orders: Array.from({ length: Math.min(1000, ORDERS - made) }, (_, i) => ({ customerName: `Customer ${made + i}`, productName: `Product ${i % 97}` })),
    });
    ids.push(...batch.map((o) => o.id));
  }

  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  await page.addInitScript(() => {
    const tasks: number[] = [];
    window.__longTasks = tasks;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) tasks.push(entry.duration);
    }).observe({ type: 'longtask', buffered: true });
  });
  await page.goto(app.url);
  await page.getByTestId('connection-status').filter({ hasText: 'Live' }).waitFor();
  await page.getByTestId('flow-summary').filter({ hasNotText: 'Loading' }).waitFor();
  await page.locator('[data-testid="flow"] canvas').first().waitFor({ state: 'attached' });
  // (Through the CSSOM: the page's Content-Security-Policy allows no <style> of ours.)
  if (values.hide) await page.evaluate((selector) => document.querySelectorAll<HTMLElement>(selector).forEach((el) => (el.style.display = 'none')), values.hide);
  // Loading the page is not what is measured: only the tasks while changes stream in.
  await page.evaluate(() => (window.__longTasks.length = 0));

  const cdp = values.profile ? await page.context().newCDPSession(page) : null;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.start');
  }
  const total = RATE * SECONDS;
  const started = performance.now();
  const inFlight: Array<Promise<unknown>> = [];
  let failed = 0;
  for (let n = 0; n < total; n++) {
    const due = started + (n * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const change =
      n % 4 === 0
        ? client.orders.create.mutate({ customerName: `Streamed ${n}`, productName: 'Bench' })
        : client.orders.update.mutate({ id: ids[(n * 7919) % ids.length]!, status: ORDER_STATUSES[n % ORDER_STATUSES.length]! });
    inFlight.push(change.catch(() => (failed += 1)));
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - started) / 1000;
  // Until the page shows the last create, its work on the stream is not over.
  await page.locator(`text=Streamed ${total - (total - 1) % 4 - 1}`).first().waitFor({ timeout: 30_000 }).catch(() => {});
  const tasks = await page.evaluate(() => window.__longTasks);
  if (cdp) printProfile((await cdp.send('Profiler.stop')).profile);

  const sorted = [...tasks].sort((a, b) => b - a);
  const [load1, load5] = loadavg();
  console.log(`orders: ${ORDERS}; changes: ${total} in ${elapsed.toFixed(1)} s (${(total / elapsed).toFixed(1)}/s), ${failed} failed`);
  console.log(`long tasks (> 50 ms) while they streamed in: ${tasks.length}; longest ${sorted[0]?.toFixed(0) ?? '-'} ms; the five longest: ${sorted.slice(0, 5).map((d) => d.toFixed(0)).join(', ') || '-'}`);
  console.log(`machine: ${process.env.HOSTNAME ?? 'this machine'}, load average ${load1!.toFixed(2)} (1 min), ${load5!.toFixed(2)} (5 min)`);
} finally {
  await browser.close();
  await app.close();
  await rm(dataDir, { recursive: true, force: true });
}

type Profile = { nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>; samples?: number[]; timeDeltas?: number[] };

/** The functions the page spent most time in (self time), from a CDP CPU profile. */
function printProfile(profile: Profile) {
  const self = new Map<number, number>();
  profile.samples?.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas?.[i] ?? 0)));
  const byName = new Map<string, number>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const name = `${functionName || '(anonymous)'} ${url.split('/').pop()}:${lineNumber}`;
    byName.set(name, (byName.get(name) ?? 0) + (self.get(node.id) ?? 0));
  }
  const top = [...byName].sort((a, b) => b[1] - a[1]).slice(0, 15);
  console.log('where the page spent its time (self, ms):');
  for (const [name, us] of top) console.log(`  ${(us / 1000).toFixed(0).padStart(6)}  ${name}`);
}
