import { once } from 'node:events';
import { describe, expect } from 'vitest';
import WebSocket from 'ws';
import { MAX_BUFFERED_BYTES } from '../server/ws/backpressure.ts';
import { positionOf } from '../shared/resume-id.ts';
import { sample } from './support/metrics-text.ts';
import { test } from './support/server.ts';
import { floodWhileSampling } from './support/writers.ts';

const EVENTS = 40_000;

describe('a subscriber that stops reading', () => {
  test('costs the server a bounded buffer, and still gets every event when it reads again', async ({ server }) => {
    const client = server.client();
    const { lastEventId: from } = await client.events.list.query({});

    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/trpc`);
    const ids: string[] = [];
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw));
      if (message.result?.type === 'data') ids.push(message.result.id);
    });
    await once(socket, 'open');
    socket.send(JSON.stringify({ id: 1, method: 'subscription', params: { path: 'orders.onChange', input: { lastEventId: from } } }));
    await client.orders.create.mutate({ customerName: 'first', productName: 'read normally' });
    await expect.poll(() => ids.length, { timeout: 10_000 }).toBe(1);

    // Stop reading: the kernel buffers fill, then the server's.
    socket.pause();
    // Once the listener has published everything, the stalled subscriber is as far behind as it gets.
    const buffered = await floodWhileSampling(server, EVENTS, () => server.drills.webSocketBufferedBytes());
    await expect.poll(() => buffered.largest(), { timeout: 10_000 }).toBeGreaterThan(MAX_BUFFERED_BYTES / 2);
    buffered.stop();
    const largest = buffered.largest();

    // ~40,000 events of ~350 bytes would be ~14 MB; the server held at most its limit plus a frame.
    expect(largest).toBeLessThan(MAX_BUFFERED_BYTES + 64 * 1024);
    expect(ids.length).toBeLessThan(EVENTS);
    // It fell back to the log, and the metrics say so.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(sample(metrics, 'live_orders_subscriber_overflows_total')).toBeGreaterThan(0);

    socket.resume();
    const expected = await server.logAfter(from);
    expect(expected).toHaveLength(EVENTS);
    await expect.poll(() => ids.length, { timeout: 60_000 }).toBe(EVENTS);
    expect(ids.map(positionOf)).toEqual(expected.map((e) => e.id));
    socket.close();
  }, 120_000);
});
