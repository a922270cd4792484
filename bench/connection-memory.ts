/**
 * Where an idle subscribed connection's memory goes: server memory per connection, after
 * forced garbage collection, for (1) a bare `ws` server, (2) live-orders with connections
 * that subscribe to nothing, (3) live-orders with one `orders.onChange` per connection.
 * Each server runs in a process of its own (with --expose-gc; live-orders built, as
 * production runs it), its clients in another.
 *
 *   npm run bench:connection-memory [-- connections]   (default 1,000)
 *
 * `npm run bench` measures RSS per idle subscriber as a deployment sees it; this is for
 * finding out what that RSS is made of.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { buildServer, REPO_ROOT } from './server-process.ts';
import { subscribeMessage } from './wire.ts';

/** The built server (dist/), as production runs it, not this file's tsx-compiled sources. */
async function importBuilt<T>(module: string): Promise<T> {
  return (await import(path.join(REPO_ROOT, 'dist', 'server', module))) as T;
}

const [mode, ...args] = process.argv.slice(2);

if (mode === '--clients') {
  // The child: open the connections, subscribe if asked, say "ready" once all are set.
  const [url, countArg, subscribe] = args;
  const count = Number(countArg);
  let ready = 0;
  const done = () => ++ready === count && console.log('ready');
  for (let i = 0; i < count; i++) {
    const ws = new WebSocket(url!);
    ws.on('open', () => (subscribe === 'yes' ? ws.send(subscribeMessage(null)) : done()));
    ws.on('message', (data) => String(data).includes('"started"') && done());
  }
} else if (mode === '--server') {
  // One configuration, in a fresh process so that RSS before and after compare.
  const [config, count] = [args[0]!, Number(args[1])];
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const settled = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 200));
    }
    return process.memoryUsage();
  };
  const measure = async (wsUrl: string, subscribe: boolean) => {
    const before = await settled();
    const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--clients', wsUrl, String(count), subscribe ? 'yes' : 'no'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout!.on('data', (d) => String(d).includes('ready') && resolve()));
    const after = await settled();
    const kb = (k: 'rss' | 'heapUsed') => ((after[k] - before[k]) / count / 1024).toFixed(1);
    console.log(`RSS ${kb('rss').padStart(5)} KB   heap used ${kb('heapUsed').padStart(5)} KB`);
    child.kill();
  };
  if (config === 'bare') {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise((r) => wss.once('listening', r));
    wss.on('connection', (ws) => ws.on('message', () => ws.send('{"id":1,"result":{"type":"started"}}')));
    await measure(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, true);
  } else {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'live-orders-memory-'));
    await chmod(dataDir, 0o755); // as root, PostgreSQL runs as its own user and must get in
    const { startApp } = await importBuilt<typeof import('../server/app.ts')>('app.js');
    const { loadConfig } = await importBuilt<typeof import('../server/config.ts')>('config.js');
    const { createLogger } = await importBuilt<typeof import('../server/logger.ts')>('logger.js');
    const app = await startApp(
      loadConfig({ ...process.env, DATA_DIR: dataDir, PORT: '0', MAX_CONNECTIONS_PER_ADDRESS: String(count * 2) }),
      createLogger('silent'),
    );
    try {
      await measure(`${app.url.replace('http', 'ws')}/trpc`, config === 'subscribed');
    } finally {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  process.exit(0);
} else {
  const count = mode ?? '1000';
  buildServer();
  console.log(`server memory per connection, ${Number(count).toLocaleString('en-US')} connections, after GC, each case in a fresh process`);
  const cases = [
    ['bare', 'bare ws (answers "started", nothing else)'],
    ['connected', 'live-orders, connected, no subscription'],
    ['subscribed', 'live-orders, one orders.onChange each'],
  ] as const;
  for (const [config, label] of cases) {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', import.meta.filename, '--server', config, count], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let line = '';
    child.stdout!.on('data', (d) => (line += String(d)));
    await new Promise((r) => child.once('exit', r));
    console.log(`${label.padEnd(46)} ${line.trim()}`);
  }
}
