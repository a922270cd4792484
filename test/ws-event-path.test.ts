import { once } from 'node:events';
import { describe, expect, vi } from 'vitest';
import WebSocket from 'ws';
import { test } from './support/server.ts';
import { webSocketStats } from './support/web-socket-stats.ts';

type Socket = { ws: WebSocket; data: Array<{ id: unknown; jsonrpc?: string; position: string; orderId: string }> };

/** A raw subscriber: the request id and jsonrpc are ours to choose, so prefixes are known. */
async function subscribe(url: string, id: number | string, jsonrpc: boolean): Promise<Socket> {
  const ws = new WebSocket(url);
  const socket: Socket = { ws, data: [] };
  let started = false;
  ws.on('message', (raw) => {
    const message = JSON.parse(String(raw));
    if (message.result?.type === 'started') started = true;
    if (message.result?.type === 'data') {
      socket.data.push({ id: message.id, jsonrpc: message.jsonrpc, position: message.result.id, orderId: message.result.data.data.orderId });
    }
  });
  await once(ws, 'open');
  ws.send(JSON.stringify({ id, ...(jsonrpc ? { jsonrpc: '2.0' } : {}), method: 'subscription', params: { path: 'orders.onChange', input: {} } }));
  await vi.waitFor(() => expect(started).toBe(true), { timeout: 10_000, interval: 10 });
  return socket;
}

describe('events to WebSocket subscribers', () => {
  test('each event is built once per request-id prefix and every delivery goes through the subscription sink', async ({ server }) => {
    const url = `${server.url.replace('http', 'ws')}/trpc`;
    const plain = await Promise.all(Array.from({ length: 10 }, () => subscribe(url, 1, false)));
    const rpc = await Promise.all(Array.from({ length: 5 }, () => subscribe(url, 'sub "x"', true)));
    const all = [...plain, ...rpc];
    // The live end is where a subscription attaches: wait until the hub counts them all.
    await vi.waitFor(() => expect(server.app.hub.subscriberCount).toBeGreaterThanOrEqual(all.length), { timeout: 10_000 });
    const before = await webSocketStats(server);

    const EVENTS = 30;
    const created = await server.sql<Array<{ id: string }>>`
      insert into orders (customer_name, product_name) select 'Path', 'p' || g from generate_series(1, ${EVENTS}::int) g returning id::text`;
    await vi.waitFor(() => expect(all.every((s) => s.data.length >= EVENTS)).toBe(true), { timeout: 20_000, interval: 10 });

    const after = await webSocketStats(server);
    const delivered = all.reduce((n, s) => n + s.data.length, 0);
    expect(delivered).toBe(EVENTS * all.length);
    // Every delivery the clients saw was counted on the sink's path, none on the generic one.
    expect(after.eventMessages - before.eventMessages).toBe(delivered);
    expect(after.otherSubscriptionData - before.otherSubscriptionData).toBe(0);
    // Two prefixes (`{"id":1,` and `{"id":"sub \"x\"","jsonrpc":"2.0",`): two messages per event.
    expect(after.eventMessagesBuilt - before.eventMessagesBuilt).toBe(EVENTS * 2);

    const orderIds = created.map((r) => r.id);
    for (const s of plain) expect(s.data.map((d) => [d.id, d.jsonrpc, d.orderId])).toEqual(orderIds.map((o) => [1, undefined, o]));
    for (const s of rpc) expect(s.data.map((d) => [d.id, d.jsonrpc, d.orderId])).toEqual(orderIds.map((o) => ['sub "x"', '2.0', o]));
    for (const s of all) s.ws.close();
  });

  test('compression is never negotiated, even when the client offers it', async ({ server }) => {
    // Messages are built once and shared between subscribers; compressed per socket they
    // could not be. The client offers permessage-deflate; the server must decline.
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/trpc`, { perMessageDeflate: true });
    await once(ws, 'open');
    expect(ws.extensions).toBe('');
    ws.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'events.list', input: { after: '0', limit: 1 } } }));
    const [reply] = (await once(ws, 'message')) as [Buffer];
    expect(JSON.parse(String(reply))).toMatchObject({ id: 1, result: { type: 'data' } });
    ws.close();
  });
});
