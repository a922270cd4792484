import { get, type IncomingMessage } from 'node:http';
import { TRPCClientError } from '@trpc/client';
import { describe, expect, vi } from 'vitest';
import type { OrderEvent } from '../shared/orders.ts';
import { SSE_PING_INTERVAL_MS } from '../shared/protocol.ts';
import { readEventStream } from './support/event-stream.ts';
import { startTestServer, test, testWithServer, type Client } from './support/server.ts';
import { expectStrictlyIncreasing, record } from './support/subscriber.ts';
import { floodWhileSampling, writeConcurrently } from './support/writers.ts';
import { positionOf } from '../shared/resume-id.ts';

async function currentPosition(client: Client): Promise<string> {
  return (await client.orders.list.query({ limit: 1 })).lastEventId;
}

const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);

describe('orders.onChange over Server-Sent Events (httpSubscriptionLink)', () => {
  test('replays from lastEventId, then goes live: every change once, in order, with tracked ids', async ({ server }) => {
    const client = server.client({ transport: 'sse' });
    const from = await currentPosition(client);
    const subscriber = record(client, { lastEventId: from });

    const order = await client.orders.create.mutate({ customerName: 'Over', productName: 'SSE' });
    await client.orders.update.mutate({ id: order.id, status: 'confirmed' });
    await server.sql`update orders set status = 'shipped' where id = ${order.id}`;
    await client.orders.delete.mutate({ id: order.id });

    const log = await server.logAfter(from);
    expect(log).toHaveLength(4);
    await subscriber.waitForCount(4);
    expect(subscriber.events).toEqual(log);
    expect(subscriber.ids.map(positionOf)).toEqual(log.map((e) => e.id));
    subscriber.stop();
  });

  test('filters by orderId and by status are applied on the server', async ({ server }) => {
    const client = server.client({ transport: 'sse' });
    const from = await currentPosition(client);
    const a = await client.orders.create.mutate({ customerName: 'A', productName: 'watched' });
    const b = await client.orders.create.mutate({ customerName: 'B', productName: 'other' });
    const byOrder = record(client, { lastEventId: from, orderId: a.id });
    const shipped = record(client, { lastEventId: from, status: 'shipped' });

    await client.orders.update.mutate({ id: b.id, status: 'shipped' });
    await client.orders.update.mutate({ id: a.id, status: 'confirmed' });
    await client.orders.update.mutate({ id: a.id, status: 'shipped' });
    await client.orders.delete.mutate({ id: b.id }); // its last state is 'shipped'
    // Matches neither, then both: "nothing else arrived" is checked after later events did.
    await client.orders.create.mutate({ customerName: 'C', productName: 'unwatched' });
    await client.orders.update.mutate({ id: a.id, status: 'shipped', customerName: 'A2' });

    const log = await server.logAfter(from);
    const expectedByOrder = log.filter((e) => e.orderId === a.id);
    const expectedShipped = log.filter((e) => e.order.status === 'shipped');
    expect(expectedByOrder.map((e) => e.type)).toEqual(['created', 'updated', 'updated', 'updated']);
    expect(expectedShipped.map((e) => [e.orderId, e.type])).toEqual([
      [b.id, 'updated'],
      [a.id, 'updated'],
      [b.id, 'deleted'],
      [a.id, 'updated'],
    ]);
    await byOrder.waitForCount(expectedByOrder.length);
    await shipped.waitForCount(expectedShipped.length);
    expect(byOrder.events).toEqual(expectedByOrder);
    expect(shipped.events).toEqual(expectedShipped);
    byOrder.stop();
    shipped.stop();
  });

  test('a dropped stream resumes from its last id while 4 writers make 1,000 changes: each once, in order', async ({ server }) => {
    const client = server.client({ transport: 'sse' });
    const from = await currentPosition(client);
    const subscriber = record(client, { lastEventId: from });
    const writing = writeConcurrently(server, 4, 250);
    // Cut the stream from the server's side, as a network failure would, three times: each
    // time the subscriber has made some progress and is connected again.
    for (let drop = 1; drop <= 3; drop++) {
      await subscriber.waitForCount(drop * 150);
      await vi.waitFor(() => expect(server.drills.eventStreamBufferedBytes()).toHaveLength(1), { timeout: 15_000 });
      expect(server.drills.dropEventStreams()).toBe(1);
    }
    await writing;

    const expected = await server.logAfter(from);
    expect(expected).toHaveLength(1000);
    await subscriber.waitForCount(1000);
    expect(subscriber.events.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    expect(subscriber.events).toEqual(expected);
    expectStrictlyIncreasing(subscriber.events);
    subscriber.stop();
  });

  test('resumes from the Last-Event-ID header, which EventSource sends on reconnect, over the id in the URL', async ({ server }) => {
    const client = server.client({ transport: 'sse' });
    const from = await currentPosition(client);
    const made = await client.orders.createMany.mutate({
      orders: Array.from({ length: 3 }, (_, i) => ({ customerName: `header ${i}`, productName: 'p' })),
    });
    const log = await server.logAfter(from);
    expect(log.map((e) => e.orderId)).toEqual(made.map((o) => o.id));

    const wire = await readEventStream(server.url, { lastEventId: from }, {
      headers: { 'last-event-id': log[0]!.id },
      done: (events) => events.filter((e) => e.id).length >= 2,
    });
    const data = wire.filter((e) => e.id);
    expect(data.map((e) => positionOf(e.id!))).toEqual([log[1]!.id, log[2]!.id]);
    expect(data.map((e) => JSON.parse(e.data) as OrderEvent)).toEqual(log.slice(1));
  });

  test('pings an idle stream, so that proxies keep it open', async ({ server }) => {
    const started = performance.now();
    const wire = await readEventStream(server.url, {}, {
      done: (events) => events.some((e) => e.event === 'ping'),
      timeoutMs: SSE_PING_INTERVAL_MS + 10_000,
    });
    expect(wire[0]!.event).toBe('connected');
    // The client is told how long silence may last before it reconnects: longer than a ping.
    expect(JSON.parse(wire[0]!.data).reconnectAfterInactivityMs).toBeGreaterThan(SSE_PING_INTERVAL_MS);
    expect(performance.now() - started).toBeLessThan(SSE_PING_INTERVAL_MS + 5_000);
  });
});

const READER = 'sse-reader-secret-0123456789';
const withTokens = testWithServer({ AUTH_TOKENS: `dash:reader:${READER},shop:writer:sse-writer-secret-0123456789` });

describe('Server-Sent Events with access control', () => {
  withTokens('authenticates by the Authorization header', async ({ server }) => {
    const reader = server.client({ transport: 'sse', token: READER });
    const from = await currentPosition(reader);
    const subscriber = record(reader, { lastEventId: from });
    await server.sql`insert into orders (customer_name, product_name) values ('by', 'header')`;
    await subscriber.waitForCount(1);
    expect(subscriber.events[0]!.order.customerName).toBe('by');
    subscriber.stop();
  });

  withTokens('no token, a wrong one, or a token in the URL (connectionParams) is refused with UNAUTHORIZED', async ({ server }) => {
    const attempts = [
      record(server.client({ transport: 'sse' }), {}),
      record(server.client({ transport: 'sse', token: 'not-a-valid-token-at-all' }), {}),
    ];
    await vi.waitFor(() => attempts.forEach((a) => expect(a.errors).toHaveLength(1)), { timeout: 10_000 });
    for (const a of attempts) expect(codeOf(a.errors[0])).toBe('UNAUTHORIZED');

    // What httpSubscriptionLink's connectionParams would send: the secret in the URL.
    const url = `${server.url}/trpc/orders.onChange?connectionParams=${encodeURIComponent(JSON.stringify({ token: READER }))}&input=%7B%7D`;
    const res = await fetch(url, { headers: { accept: 'text/event-stream' } });
    const text = await res.text();
    expect(text).toContain('event: serialized-error');
    expect(text).toContain('UNAUTHORIZED');
    expect(text).not.toMatch(/^id: /m);
  });
});

describe('Server-Sent Events at shutdown', () => {
  test('closing the server ends its open streams at once, instead of waiting for them', async () => {
    const server = await startTestServer();
    const open = readEventStream(server.url, {}, { done: () => false, timeoutMs: 30_000 });
    open.catch(() => {});
    await expect.poll(() => server.app.hub.subscriberCount, { timeout: 10_000 }).toBe(1);
    const started = performance.now();
    await server.close();
    // Below the 5 s after which main.ts gives up on a clean exit (this includes dropping the
    // test's database); without ending the stream it would wait for it for ever.
    expect(performance.now() - started).toBeLessThan(5_000);
    await expect(open).rejects.toThrow();
  });
});

const capped = testWithServer({ MAX_CONNECTIONS_PER_ADDRESS: '2' });

describe('Server-Sent Events per client address', () => {
  capped('count against MAX_CONNECTIONS_PER_ADDRESS like WebSockets: the one too many gets 429', async ({ server }) => {
    const url = `${server.url}/trpc/orders.onChange?input=%7B%7D`;
    const streams = Array.from({ length: 2 }, () => new AbortController());
    const opened = await Promise.all(streams.map((s) => fetch(url, { headers: { accept: 'text/event-stream' }, signal: s.signal })));
    expect(opened.map((r) => r.status)).toEqual([200, 200]);

    const refused = await fetch(url, { headers: { accept: 'text/event-stream' } });
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({ error: 'at most 2 WebSockets and event streams per client address' });

    // A stream that ends gives its place back.
    streams[0]!.abort();
    await vi.waitFor(async () => {
      const again = await fetch(url, { headers: { accept: 'text/event-stream' } });
      await again.body?.cancel();
      expect(again.status).toBe(200);
    }, { timeout: 10_000 });
    streams[1]!.abort();
  });
});

describe('an SSE subscriber that stops reading', () => {
  test('costs the server a bounded buffer, and still gets every event, in order, when it reads again', async ({ server }) => {
    const EVENTS = 40_000;
    const client = server.client({ transport: 'sse' });
    const from = await currentPosition(client);
    const ids: string[] = [];
    let buffered = '';
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const input = encodeURIComponent(JSON.stringify({ lastEventId: from }));
      get(`${server.url}/trpc/orders.onChange?input=${input}`, { headers: { accept: 'text/event-stream' } }, resolve).on('error', reject);
    });
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      buffered += chunk;
      const blocks = buffered.split('\n\n');
      buffered = blocks.pop()!;
      for (const block of blocks) {
        const id = /^id: (\d+)(?:\.[0-9a-f]+)?$/m.exec(block);
        if (id) ids.push(id[1]!);
      }
    });
    await client.orders.create.mutate({ customerName: 'first', productName: 'read normally' });
    await vi.waitFor(() => expect(ids).toHaveLength(1), { timeout: 10_000 });

    // Stop reading: the kernel's buffers fill, then the server's.
    response.pause();
    const held = await floodWhileSampling(server, EVENTS, () => server.drills.eventStreamBufferedBytes());
    held.stop();
    const largest = held.largest();
    // ~40,000 events of ~350 bytes would be ~14 MB; the server holds about one write's worth.
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThan(64 * 1024);
    expect(ids.length).toBeLessThan(EVENTS);

    response.resume();
    const expected = await server.logAfter(from);
    expect(expected).toHaveLength(EVENTS);
    await vi.waitFor(() => expect(ids).toHaveLength(EVENTS), { timeout: 60_000 });
    expect(ids).toEqual(expected.map((e) => e.id));
    response.destroy();
  }, 120_000);
});
