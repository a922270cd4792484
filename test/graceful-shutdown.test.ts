import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import postgres from 'postgres';
import { describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { migrateDatabase } from '../server/db/migrate.ts';
import { createTestDatabase } from './support/server.ts';

/** Starts `npm start`'s server process on a free port and resolves with its URL. */
async function startServerProcess(databaseUrl: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  child.stderr.on('data', (chunk) => lines.push(String(chunk)));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      const match = /listening on (http:\/\/\S+?)"/.exec(line);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${lines.join('\n')}`)));
  });
  return { child, url, lines };
}

describe('graceful shutdown', () => {
  test('on SIGTERM: no new work, in-flight mutations finish, WebSocket clients are told to reconnect, clean exit', async () => {
    const database = await createTestDatabase();
    await migrateDatabase(database.url);
    const sql = postgres(database.url, { max: 2 });
    const [order] = await sql<{ id: string }[]>`insert into orders (customer_name, product_name) values ('in', 'flight') returning id`;
    const { child, url } = await startServerProcess(database.url, { SHUTDOWN_DRAIN_MS: '0' });

    // A subscriber, which should hear "reconnect" rather than a dead socket.
    const socket = new WebSocket(`${url.replace('http', 'ws')}/trpc`);
    const messages: string[] = [];
    socket.on('message', (m) => messages.push(String(m)));
    await once(socket, 'open');
    socket.send(JSON.stringify({ id: 1, method: 'subscription', params: { path: 'orders.onChange', input: {} } }));
    await expect.poll(() => messages.some((m) => m.includes('"started"')), { timeout: 10_000 }).toBe(true);

    // An update held in flight by a row lock.
    const lock = await sql.reserve();
    await lock`begin`;
    await lock`select id from orders where id = ${order!.id} for update`;
    const inFlight = fetch(`${url}/api/orders/${order!.id}`, { method: 'PATCH', body: JSON.stringify({ status: 'shipped' }) });
    await expect
      .poll(async () => (await sql`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like 'update "orders"%'`).length, { timeout: 10_000 })
      .toBe(1);

    child.kill('SIGTERM');
    const exited = once(child, 'exit');
    // New connections are refused while the in-flight request is still running.
    await expect.poll(async () => fetch(`${url}/healthz`).then(() => 'served', () => 'refused'), { timeout: 5_000 }).toBe('refused');
    await expect.poll(() => messages.some((m) => m.includes('"reconnect"')), { timeout: 5_000 }).toBe(true);

    await lock`commit`;
    lock.release();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect((await response.json()).status).toBe('shipped');

    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    const [row] = await sql<{ status: string }[]>`select status from orders where id = ${order!.id}`;
    expect(row!.status).toBe('shipped');
    await sql.end();
    await database.drop();
  });

  test('on SIGTERM: /readyz turns 503 at once, the node keeps serving for SHUTDOWN_DRAIN_MS, then shuts down', async () => {
    const database = await createTestDatabase();
    const { child, url } = await startServerProcess(database.url, { SHUTDOWN_DRAIN_MS: '3000' });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    const socket = new WebSocket(`${url.replace('http', 'ws')}/trpc`);
    const messages: string[] = [];
    socket.on('message', (m) => messages.push(String(m)));
    await once(socket, 'open');

    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await expect.poll(async () => (await fetch(`${url}/readyz`)).status, { timeout: 5_000 }).toBe(503);
    // Still serving while it drains: requests, and new WebSockets.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/api/orders`)).status).toBe(200);
    const late = new WebSocket(`${url.replace('http', 'ws')}/trpc`);
    await once(late, 'open');
    expect(messages.some((m) => m.includes('"reconnect"'))).toBe(false);

    // Then today's shutdown: clients told to reconnect, a clean exit.
    await expect.poll(() => messages.some((m) => m.includes('"reconnect"')), { timeout: 10_000 }).toBe(true);
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    await database.drop();
  });
});
