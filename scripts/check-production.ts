/**
 * Proves the production start works the way the Dockerfile runs it:
 *
 *   npm run build && npm run check:production
 *
 * Copies what the image's last stage holds (package.json, package-lock.json, patches/, dist/,
 * and the client package's package.json, bin/ and dist/) to a temporary directory, installs there
 * with `npm ci --omit=dev`, checks that no dev dependency came along and that the postgres.js
 * patch was applied, then starts `npm run start:prod` (node on the built JavaScript) twice: on
 * an embedded PostgreSQL in that directory, then on that same cluster through PgBouncer in
 * transaction mode with DIRECT_DATABASE_URL, as deployed. Each time: /healthz, the page, an
 * order created and read back, a clean stop on SIGTERM; the first time also the built tail
 * (`live-orders-tail --json`, installed as the client package's command), which must print
 * that order as a JSON line and nothing else on stdout. Exits 0 when all holds; the node's
 * own output is printed when something does not.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../server/db/embedded.ts';
import { createLogger } from '../server/logger.ts';
import { startPgBouncer, type PgBouncer } from '../test/support/pgbouncer.ts';

const root = path.resolve(import.meta.dirname, '..');
const START_DEADLINE_MS = 60_000;

const CLIENT = 'packages/client';
for (const built of ['dist/server/main.js', 'dist/web/index.html', 'dist/drizzle/meta/_journal.json', `${CLIENT}/dist/tail.mjs`]) {
  if (!existsSync(path.join(root, built))) fail(`${built} is missing: run \`npm run build\` first`);
}

const work = await mkdtemp(path.join(tmpdir(), 'live-orders-production-'));
// The embedded PostgreSQL runs as the `postgres` system user when we are root; it must get in.
await chmod(work, 0o755);
let node: ChildProcess | undefined;
let url = '';
let output = '';
let database: EmbeddedDatabase | undefined;
let pooler: PgBouncer | undefined;

try {
  // The client package is a workspace: npm ci wants its package.json, and links its command.
  await mkdir(path.join(work, CLIENT), { recursive: true });
  for (const entry of ['package.json', 'package-lock.json', 'patches', 'dist', `${CLIENT}/package.json`, `${CLIENT}/bin`, `${CLIENT}/dist`]) {
    await cp(path.join(root, entry), path.join(work, entry), { recursive: true });
  }
  // npm run passes its own settings down as npm_* variables; the copy gets a clean npm.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') && k !== 'DATABASE_URL' && k !== 'DIRECT_DATABASE_URL'));

  step('npm ci --omit=dev');
  await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: work, env });

  // What the lockfile marks dev-only (tsx, vite, vitest, drizzle-kit, … and their own
  // dependencies) must be absent. TypeScript and @types/* come along: tRPC names them as peer
  // dependencies for its types, and npm installs peers; nothing loads them at run time.
  const lock = JSON.parse(readFileSync(path.join(work, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const devOnly = Object.entries(lock.packages).filter(([where, p]) => p.dev && where.startsWith('node_modules/'));
  const devInstalled = devOnly.map(([where]) => where).filter((where) => existsSync(path.join(work, where)));
  if (devInstalled.length > 0) fail(`dev-only packages were installed: ${devInstalled.join(', ')}`);
  if (!devOnly.some(([where]) => where === 'node_modules/tsx') || existsSync(path.join(work, 'node_modules/vite'))) {
    fail('tsx should be a dev-only package, and vite absent');
  }
  for (const file of ['src/connection.js', 'cjs/src/connection.js']) {
    if (!readFileSync(path.join(work, 'node_modules/postgres', file), 'utf8').includes('live-orders patch')) {
      fail(`the postgres.js patch was not applied to ${file}`);
    }
  }
  step(`none of ${devOnly.length} dev-only packages installed; postgres.js patched`);

  // 1. As `npm start` would: no DATABASE_URL, an embedded PostgreSQL in the copy.
  step('npm run start:prod, embedded database');
  await startProd(env);
  await exercise('embedded');
  await tailSeesAnOrder(env);
  await stopProd();

  // 2. As deployed: that same cluster behind PgBouncer in transaction mode (the tests' one,
  // with deploy/pgbouncer.ini), DATABASE_URL through it, DIRECT_DATABASE_URL straight.
  database = await startEmbeddedPostgres(path.join(work, '.data'), createLogger('error'));
  pooler = await startPgBouncer(database.url);
  step('npm run start:prod, DATABASE_URL through PgBouncer, DIRECT_DATABASE_URL direct');
  await startProd({ ...env, DATABASE_URL: pooler.via(database.url), DIRECT_DATABASE_URL: database.url });
  await exercise('pooled');
  await stopProd();
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
} finally {
  if (node?.pid) process.kill(-node.pid, 'SIGKILL');
  await pooler?.stop();
  await database?.stop();
  await rm(work, { recursive: true, force: true });
}

/** Starts `npm run start:prod` in the copy; resolves with the URL it logs once listening. */
async function startProd(env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn('npm', ['run', 'start:prod'], {
    cwd: work,
    env: { ...env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: path.join(work, '.data'), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: npm and node stop together
  });
  node = child;
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line within ${START_DEADLINE_MS} ms`)), START_DEADLINE_MS);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output += `${line}\n`;
      const listening = listeningUrl(line);
      if (listening) {
        clearTimeout(timer);
        resolve(listening);
      }
    });
    child.once('exit', (code) => reject(new Error(`start:prod exited with ${code} before listening`)));
  });
  step(`listening on ${url}`);
}

/** /healthz, the page, and an order created and read back. */
async function exercise(name: string): Promise<void> {
  const health = await fetch(`${url}/healthz`);
  if (health.status !== 200) fail(`/healthz answered ${health.status}: ${await health.text()}`);
  const page = await fetch(url);
  if (page.status !== 200 || !(await page.text()).includes('<script')) fail(`/ answered ${page.status}, not the built page`);
  const created = await fetch(`${url}/api/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ customer_name: 'Production', product_name: name }),
  });
  const order = (await created.json()) as { id?: string; product_name?: string };
  if (created.status !== 201 || order.product_name !== name) fail(`creating an order answered ${created.status}: ${JSON.stringify(order)}`);
  const read = await fetch(`${url}/api/orders/${order.id}`);
  if (read.status !== 200 || ((await read.json()) as { id?: string }).id !== order.id) fail(`order ${order.id} could not be read back`);
  step(`/healthz 200, the page, order ${order.id} created and read back`);
}

/**
 * The client package's built command, as installed: it goes live, prints an order created
 * meanwhile as one JSON line, and prints nothing on stdout that is not such a line.
 */
async function tailSeesAnOrder(env: NodeJS.ProcessEnv): Promise<void> {
  const bin = path.join(work, 'node_modules/.bin/live-orders-tail');
  if (!existsSync(bin)) fail('npm ci --omit=dev did not install the live-orders-tail command');
  const tail = spawn(bin, ['--url', url, '--json'], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  tail.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  tail.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => tail.once('exit', resolve));
  const until = async (what: string, done: () => boolean) => {
    for (const deadline = Date.now() + START_DEADLINE_MS; !done(); await new Promise((r) => setTimeout(r, 50))) {
      if (Date.now() > deadline || tail.exitCode !== null) {
        tail.kill('SIGKILL');
        fail(`the tail did not ${what}; stderr: ${stderr}; stdout: ${stdout}`);
      }
    }
  };
  await until('go live', () => stderr.includes('live over websocket'));
  const created = await fetch(`${url}/api/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ customer_name: 'Tail', product_name: 'installed command' }),
  });
  const order = (await created.json()) as { id?: string };
  await until(`print order ${order.id}`, () => stdout.includes('\n'));
  tail.kill('SIGTERM');
  if ((await exited) !== 0) fail(`the tail exited with ${tail.exitCode} on SIGTERM; stderr: ${stderr}`);
  const lines = stdout.trimEnd().split('\n');
  const events = lines.map((line) => {
    try {
      return JSON.parse(line) as { orderId?: string; type?: string };
    } catch {
      return fail(`the tail's stdout has a line that is not JSON: ${line}`);
    }
  });
  if (events.length !== 1 || events[0]!.orderId !== order.id || events[0]!.type !== 'created') {
    fail(`the tail printed ${stdout}, not order ${order.id}'s creation alone`);
  }
  step(`live-orders-tail --json printed order ${order.id}'s creation as one JSON line`);
}

/** SIGTERM to the group, as a container's stop does; npm dies of it, node shuts down. */
async function stopProd(): Promise<void> {
  const child = node!;
  // The pipe closes once both are gone.
  const closed = new Promise<void>((resolve) => child.stdout!.once('close', () => resolve()));
  const logged = output.length;
  process.kill(-child.pid!, 'SIGTERM');
  await closed;
  node = undefined;
  if (!output.slice(logged).includes('"msg":"stopped"')) fail('the node did not log "stopped" after SIGTERM');
  step('stopped cleanly on SIGTERM');
}

/** The `url` of main.ts's "listening" log line (pino JSON), if this is that line. */
function listeningUrl(line: string): string | undefined {
  try {
    const entry = JSON.parse(line) as { msg?: unknown; url?: unknown };
    return typeof entry.msg === 'string' && entry.msg.startsWith('live-orders listening') && typeof entry.url === 'string' ? entry.url : undefined;
  } catch {
    return undefined;
  }
}

function step(what: string): void {
  process.stdout.write(`check:production: ${what}\n`);
}

function fail(why: string): never {
  process.stderr.write(`check:production FAILED: ${why}\n${output}`);
  process.exit(1);
}

function run(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (log += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (log += c));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${log}`))));
  });
}
