import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, vi } from 'vitest';
import type { OrderEvent } from '../shared/orders.ts';
import { test } from './support/server.ts';

/** `npm run tail` as a child process, its stdout lines and stderr kept. */
function startTail(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/client/src/tail.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  child.stderr.on('data', (chunk) => (stderr += String(chunk)));
  return {
    child,
    lines,
    stderr: () => stderr,
    async waitLive() {
      await vi.waitFor(() => expect(stderr).toMatch(/live over/), { timeout: 20_000, interval: 20 });
    },
  };
}

describe('npm run tail', () => {
  test('stopped with Ctrl-C and restarted with --state, prints every change exactly once', async ({ server }) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tail-'));
    const state = path.join(dir, 'state.json');
    const writer = server.client();
    const [{ head }] = await server.sql<[{ head: string }]>`select coalesce(max(id), 0)::text as head from order_events`;
    try {
      const first = startTail(['--url', server.url, '--state', state, '--json']);
      await first.waitLive();
      const made = await writer.orders.createMany.mutate({ orders: Array.from({ length: 20 }, (_, i) => ({ customerName: `A${i}`, productName: 'P' })) });
      await vi.waitFor(() => expect(first.lines).toHaveLength(20), { timeout: 10_000, interval: 20 });
      first.child.kill('SIGINT');
      const [code] = await once(first.child, 'exit');
      expect(code).toBe(0);
      expect(JSON.parse(await readFile(state, 'utf8'))).toEqual({ lastEventId: (JSON.parse(first.lines.at(-1)!) as OrderEvent).id });

      // Changes while no tail runs.
      for (const order of made.slice(0, 10)) await writer.orders.update.mutate({ id: order.id, status: 'shipped' });
      await server.sql`delete from orders where id = ${made[10]!.id}`;

      const second = startTail(['--url', server.url, '--state', state, '--json']);
      await second.waitLive();
      await server.sql`insert into orders (customer_name, product_name) values ('after', 'restart')`;
      const log = await server.logAfter(head);
      expect(log).toHaveLength(32);
      await vi.waitFor(() => expect(second.lines).toHaveLength(12), { timeout: 10_000, interval: 20 });
      second.child.kill('SIGTERM');
      expect((await once(second.child, 'exit'))[0]).toBe(0);

      const printed = [...first.lines, ...second.lines].map((l) => JSON.parse(l) as OrderEvent);
      expect(printed).toEqual(log);
      expect(first.stderr() + second.stderr()).not.toMatch(/error/i);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('prints one readable line per change, filtered by --status, over SSE, and refuses a bad flag', async ({ server }) => {
    const tail = startTail(['--url', server.url, '--status', 'shipped', '--transport', 'sse']);
    await tail.waitLive();
    expect(tail.stderr()).toMatch(/live over sse/);
    const writer = server.client();
    const order = await writer.orders.create.mutate({ customerName: 'Ada', productName: 'Loom' });
    await writer.orders.update.mutate({ id: order.id, status: 'shipped' });
    await vi.waitFor(() => expect(tail.lines).toHaveLength(1), { timeout: 10_000, interval: 20 });
    expect(tail.lines[0]).toMatch(new RegExp(`^\\d+\\t\\S+\\tOrder ${order.id}: pending → shipped\\t\\(v2, by anonymous\\)$`));
    tail.child.kill('SIGINT');
    expect((await once(tail.child, 'exit'))[0]).toBe(0);

    const bad = startTail(['--url', server.url, '--status', 'lost']);
    expect((await once(bad.child, 'exit'))[0]).toBe(2);
    expect(bad.stderr()).toMatch(/--status/);
    expect(bad.lines).toEqual([]);
  });
});
