import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { sleep } from '../server/retry.ts';
import type { AppRouter } from '../server/routers/app.ts';
import { Cluster } from '../scripts/chaos/cluster.ts';
import { sample } from './support/metrics-text.ts';
import { openWebSocketFrom } from './support/open-web-socket.ts';
import { positionOf } from '../shared/resume-id.ts';
import { asDomWebSocket } from './support/node-web-socket.ts';

// Three real nodes (child processes, so SIGTERM is real) behind a real HAProxy running
// deploy/haproxy.cfg. Clients come from several loopback addresses, as from several machines.
const PER_ADDRESS = 3;
const NODES = 3;

let cluster: Cluster;
beforeAll(async () => {
  cluster = await Cluster.start(NODES, {
    viaHaproxy: true,
    env: { MAX_CONNECTIONS_PER_ADDRESS: String(PER_ADDRESS), SHUTDOWN_DRAIN_MS: '5000' },
  });
}, 120_000);
afterAll(() => cluster?.close());

const wsUrl = (httpUrl: string) => `${httpUrl.replace('http', 'ws')}/trpc`;

async function closeAll(sockets: WebSocket[]) {
  await Promise.all(
    sockets.map((s) => (s.readyState === WebSocket.CLOSED ? undefined : new Promise((resolve) => s.once('close', resolve).terminate()))),
  );
}

const metricsOf = async (url: string) => (await fetch(`${url}/metrics`)).text();

describe('behind HAProxy', () => {
  test('per-address limits count the client HAProxy forwards for, not HAProxy; a spoofed X-Forwarded-For sent straight to a node is ignored', async () => {
    const proxy = cluster.haproxy!;
    const opened: WebSocket[] = [];
    try {
      // Through HAProxy each client address gets PER_ADDRESS on each node (HAProxy spreads
      // one client's sockets evenly), so many more than PER_ADDRESS in all...
      const clients = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
      for (const address of clients) {
        for (let i = 0; i < PER_ADDRESS * NODES; i++) {
          const { status, socket } = await openWebSocketFrom(wsUrl(proxy.url), address);
          expect(status, `${address}, socket ${i + 1}`).toBe(101);
          opened.push(socket!);
        }
        // ...and the limit still holds for each of them: every node has its PER_ADDRESS.
        expect((await openWebSocketFrom(wsUrl(proxy.url), address)).status).toBe(429);
      }
      expect(opened.length).toBeGreaterThan(PER_ADDRESS);
      const fresh = await openWebSocketFrom(wsUrl(proxy.url), '127.0.0.5');
      expect(fresh.status).toBe(101);
      opened.push(fresh.socket!);

      // Straight to a node, X-Forwarded-For is the client's word and counts for nothing:
      // 127.0.0.2 is at its limit on every node, whatever address it claims to forward for.
      const node = cluster.nodes[0]!;
      expect((await openWebSocketFrom(wsUrl(node.url), '127.0.0.2', { 'x-forwarded-for': '198.51.100.7' })).status).toBe(429);
      // And a new address cannot multiply itself by claiming a new address each time.
      for (let i = 0; i < PER_ADDRESS; i++) {
        const { status, socket } = await openWebSocketFrom(wsUrl(node.url), '127.0.0.6', { 'x-forwarded-for': `198.51.100.${i + 10}` });
        expect(status).toBe(101);
        opened.push(socket!);
      }
      expect((await openWebSocketFrom(wsUrl(node.url), '127.0.0.6', { 'x-forwarded-for': '198.51.100.99' })).status).toBe(429);
    } finally {
      await closeAll(opened);
    }
    // HAProxy has let go of them too, so the next test starts from even nodes.
    await expect.poll(async () => (await proxy.nodes()).map((n) => n.currentSessions), { timeout: 10_000 }).toEqual([0, 0, 0]);
  });

  test('SIGTERM to a node while writers run: it leaves HAProxy before it closes; its subscribers resume on the others, nothing missed, nothing twice', async () => {
    const proxy = cluster.haproxy!;
    const sql = postgres(cluster.databaseUrl, { max: 1, onnotice: () => {} });
    const [{ start }] = await sql<[{ start: string }]>`select coalesce(max(id), 0)::text as start from order_events`;

    // Six subscribers through HAProxy, each from an address of its own: two on each node.
    const subscribers = Array.from({ length: 6 }, (_, i) => subscribeThrough(proxy.url, `127.0.0.${20 + i}`, start));
    await expect.poll(() => subscribers.every((s) => s.started), { timeout: 15_000 }).toBe(true);
    const victim = cluster.nodes[1]!;
    const onVictim = sample(await metricsOf(victim.url), 'live_orders_subscriptions', { transport: 'websocket' });
    expect(onVictim).toBeGreaterThan(0);

    const writing = new AbortController();
    const writes = writeThrough(proxy.url, writing.signal);
    try {
      await expect.poll(() => subscribers.every((s) => s.ids.length >= 10), { timeout: 15_000 }).toBe(true);

      const exited = victim.stop();
      // At once: not ready, though still serving.
      await expect.poll(async () => (await fetch(`${victim.url}/readyz`)).status, { timeout: 2_000 }).toBe(503);
      // HAProxy's checks take it out while it still runs.
      await expect
        .poll(async () => (await proxy.nodes()).find((n) => n.name === 'node2')?.status, { timeout: 4_500 })
        .toMatch(/^DOWN/);
      expect(victim.running).toBe(true);
      expect((await fetch(`${victim.url}/healthz`)).status).toBe(200);
      // New clients now go to the others only.
      const connectionsBefore = sample(await metricsOf(victim.url), 'live_orders_websocket_connections');
      const newcomers = await Promise.all([40, 41, 42].map((n) => openWebSocketFrom(wsUrl(proxy.url), `127.0.0.${n}`)));
      expect(newcomers.map((n) => n.status)).toEqual([101, 101, 101]);
      expect(sample(await metricsOf(victim.url), 'live_orders_websocket_connections')).toBe(connectionsBefore);
      await closeAll(newcomers.map((n) => n.socket!));

      // Then it closes, and its subscribers come back through HAProxy, elsewhere.
      expect(await exited).toBe(0);
      const counts = subscribers.map((s) => s.ids.length);
      await expect.poll(() => subscribers.every((s, i) => s.ids.length >= counts[i]! + 10), { timeout: 15_000 }).toBe(true);
    } finally {
      writing.abort();
      await writes;
    }

    const log = (await sql<{ id: string }[]>`select id::text from order_events where order_events.id > ${start} order by order_events.id`).map((r) => r.id);
    expect(log.length).toBeGreaterThan(50);
    for (const until = Date.now() + 20_000; Date.now() < until && !subscribers.every((s) => s.ids.at(-1) === log.at(-1)); ) await sleep(50);
    const summary = (ids: string[]) => ({ count: ids.length, last: ids.at(-1), errors: ids.filter((i) => i.startsWith('error')).slice(0, 3) });
    for (const s of subscribers) expect(summary(s.ids), JSON.stringify(summary(log))).toEqual(summary(log));
    for (const s of subscribers) expect(s.ids).toEqual(log); // in order, none missing, none twice
    // Those that were on the stopped node came back (elsewhere: it was gone).
    expect(subscribers.filter((s) => s.reconnects > 0).length).toBeGreaterThanOrEqual(onVictim!);
    await Promise.all(subscribers.map((s) => s.close()));
    await sql.end();
  });
});

/** An orders.onChange subscriber through `url` from `localAddress`, recording every id. */
function subscribeThrough(url: string, localAddress: string, after: string) {
  const state = { ids: [] as string[], started: false, reconnects: -1, close: async () => {} };
  class FromAddress extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { localAddress });
      state.reconnects++;
    }
  }
  const wsClient = createWSClient({ url: wsUrl(url), WebSocket: asDomWebSocket(FromAddress), retryDelayMs: () => 100 });
  const client = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] });
  const sub = client.orders.onChange.subscribe(
    { lastEventId: after },
    {
      onStarted: () => (state.started = true),
      onData: ({ id }) => state.ids.push(positionOf(id)),
      onError: (err) => state.ids.push(`error: ${err.message}`),
    },
  );
  state.close = async () => {
    sub.unsubscribe();
    await wsClient.close();
  };
  return state;
}

/** Two writers creating orders through `url` until `signal`; failures (a node going) are retried. */
async function writeThrough(url: string, signal: AbortSignal) {
  const writer = async () => {
    while (!signal.aborted) {
      await fetch(`${url}/api/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ customer_name: 'behind', product_name: 'haproxy' }),
      })
        .then((r) => r.arrayBuffer())
        .catch(() => {});
    }
  };
  await Promise.all([writer(), writer()]);
}
