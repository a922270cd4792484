import { describe, expect } from 'vitest';
import type { Client } from './support/server.ts';
import { test } from './support/server.ts';
import { expectStrictlyIncreasing, record } from './support/subscriber.ts';
import { writeConcurrently } from './support/writers.ts';
import { parseResumeId, positionOf } from '../shared/resume-id.ts';

async function currentPosition(client: Client): Promise<string> {
  return (await client.orders.list.query({ limit: 1 })).lastEventId;
}

describe('orders.onChange', () => {
  test('pushes each change to every subscriber, in position order, with tracked ids', async ({ server }) => {
    const writer = server.client();
    const from = await currentPosition(writer);
    const subscribers = Array.from({ length: 3 }, () => record(server.client(), { lastEventId: from }));

    const order = await writer.orders.create.mutate({ customerName: 'Live', productName: 'Feed' });
    await writer.orders.update.mutate({ id: order.id, status: 'confirmed' });
    await server.sql`update orders set status = 'shipped' where id = ${order.id}`;
    await writer.orders.delete.mutate({ id: order.id });

    const log = await server.logAfter(from);
    expect(log).toHaveLength(4);
    for (const s of subscribers) {
      await s.waitForCount(4);
      expect(s.events).toEqual(log);
      // Tracked ids are resume ids: the event's position and its digest, the same for everyone.
      expect(s.ids.map(positionOf)).toEqual(log.map((e) => e.id));
      expect(s.ids.every((id) => parseResumeId(id).digest !== null)).toBe(true);
      expect(s.ids).toEqual(subscribers[0]!.ids);
    }
  });

  test('without lastEventId it starts at the live end', async ({ server }) => {
    const writer = server.client();
    await writer.orders.create.mutate({ customerName: 'Before', productName: 'Subscribing' });
    // The live end is this node's: a commit is there once its listener has published it
    // (a moment later, longer through a pooler), so the subscription must not start sooner.
    const { lastEventId: before } = await writer.events.list.query({});
    await expect.poll(() => server.app.hub.position, { timeout: 10_000 }).toBe(before);
    const attachedBefore = server.app.hub.subscriberCount;
    const live = record(server.client(), {});
    // The live end is where the subscription attaches: wait until the hub counts it.
    await expect.poll(() => server.app.hub.subscriberCount, { timeout: 10_000 }).toBe(attachedBefore + 1);

    const after = await writer.orders.create.mutate({ customerName: 'After', productName: 'Subscribing' });
    await live.waitForCount(1);
    expect(live.events.map((e) => e.orderId)).toEqual([after.id]);
  });

  test('filters by orderId and by status (after the change) are applied on the server', async ({ server }) => {
    const writer = server.client();
    const from = await currentPosition(writer);
    const a = await writer.orders.create.mutate({ customerName: 'A', productName: 'watched' });
    const b = await writer.orders.create.mutate({ customerName: 'B', productName: 'other' });

    const byOrder = record(server.client(), { lastEventId: from, orderId: a.id });
    const shipped = record(server.client(), { lastEventId: from, status: 'shipped' });

    await writer.orders.update.mutate({ id: b.id, status: 'shipped' });
    await writer.orders.update.mutate({ id: a.id, status: 'confirmed' });
    await writer.orders.update.mutate({ id: a.id, status: 'shipped' });
    await writer.orders.update.mutate({ id: a.id, status: 'delivered' });
    await writer.orders.delete.mutate({ id: b.id }); // its last state is 'shipped'

    const log = await server.logAfter(from);
    const expectedByOrder = log.filter((e) => e.orderId === a.id);
    const expectedShipped = log.filter((e) => e.order.status === 'shipped');
    expect(expectedByOrder).toHaveLength(4);
    expect(expectedShipped.map((e) => [e.orderId, e.type])).toEqual([
      [b.id, 'updated'],
      [a.id, 'updated'],
      [b.id, 'deleted'],
    ]);

    await byOrder.waitForCount(expectedByOrder.length);
    await shipped.waitForCount(expectedShipped.length);
    // One more change that matches neither filter, then one that matches both, so that
    // "nothing else arrived" is checked after later events did arrive.
    const c = await writer.orders.create.mutate({ customerName: 'C', productName: 'unwatched' });
    await writer.orders.update.mutate({ id: a.id, status: 'shipped' });
    const last = (await server.logAfter(from)).at(-1)!;
    expect(last.orderId).toBe(a.id);
    await byOrder.waitForCount(expectedByOrder.length + 1);
    await shipped.waitForCount(expectedShipped.length + 1);
    expect(byOrder.events).toEqual([...expectedByOrder, last]);
    expect(shipped.events).toEqual([...expectedShipped, last]);
    expect(byOrder.events.some((e) => e.orderId === c.id)).toBe(false);
  });

  test('many subscriptions on one connection, opened at once and some stopped, each get their own events only', async ({ server }) => {
    // Each subscription's events are framed under its own request id, by its sink
    // (server/ws/subscription-sink.ts); a mix-up would show here as foreign events.
    const writer = server.client();
    const watcher = server.client();
    const from = await currentPosition(writer);
    const watched = await writer.orders.createMany.mutate({
      orders: Array.from({ length: 12 }, (_, i) => ({ customerName: `watched ${i}`, productName: 'p' })),
    });
    const live = watched.map((o) => record(watcher, { orderId: o.id })); // live end: no replay
    const replaying = watched.map((o) => record(watcher, { lastEventId: from, orderId: o.id }));
    await Promise.all(replaying.map((r) => r.waitForCount(1)));
    for (const r of live.slice(0, 6)) r.stop();
    for (const o of watched) await writer.orders.update.mutate({ id: o.id, status: 'confirmed' });
    for (const o of watched) await writer.orders.update.mutate({ id: o.id, status: 'shipped' });

    const log = await server.logAfter(from);
    const of = (id: string) => log.filter((e) => e.orderId === id);
    await Promise.all(replaying.map((r, i) => r.waitForCount(of(watched[i]!.id).length)));
    await Promise.all(live.slice(6).map((r) => r.waitForCount(2)));
    watched.forEach((o, i) => {
      expect(replaying[i]!.events).toEqual(of(o.id));
      expect(replaying[i]!.ids.map(positionOf)).toEqual(of(o.id).map((e) => e.id));
      // A live-end subscription may or may not see the create, which raced its start.
      if (i >= 6) expect(live[i]!.events).toEqual(of(o.id).slice(-Math.max(2, live[i]!.events.length)));
    });
    // Stopped ones got at most what came before their stop, and never another order's event.
    live.slice(0, 6).forEach((r, i) => expect(r.events.every((e) => e.orderId === watched[i]!.id)).toBe(true));
  });

  test('resume: a subscriber that was away for 1,000 changes by 4 writers gets exactly those, once, in order', async ({ server }) => {
    const first = server.client();
    const from = await currentPosition(first);
    const before = record(first, { lastEventId: from });
    const warmup = await server.client().orders.create.mutate({ customerName: 'warm', productName: 'up' });
    await before.waitForCount(1);
    expect(before.events[0]!.orderId).toBe(warmup.id);
    const lastSeen = before.ids.at(-1)!;
    await server.disconnect(first);

    await writeConcurrently(server, 4, 250);

    const resumed = record(server.client(), { lastEventId: lastSeen });
    const expected = await server.logAfter(positionOf(lastSeen));
    expect(expected).toHaveLength(1000);
    await resumed.waitForCount(1000);
    expect(resumed.events.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    expectStrictlyIncreasing(resumed.events);
  });

  test('resume by itself: the server drops the socket mid-stream and the client catches up', async ({ server }) => {
    const from = await currentPosition(server.client());
    const subscriber = record(server.client(), { lastEventId: from });
    const writing = writeConcurrently(server, 4, 100);
    // Drop every WebSocket from the server side while the writers run, twice.
    for (let drops = 0; drops < 2; drops++) {
      await subscriber.waitForCount((drops + 1) * 50);
      server.drills.dropWebSockets();
    }
    await writing;
    const expected = await server.logAfter(from);
    expect(expected).toHaveLength(400);
    await subscriber.waitForCount(400);
    expect(subscriber.events.map((e) => e.id)).toEqual(expected.map((e) => e.id));
  });

  test('seam: orders.list, then subscribe from its lastEventId while writers run: nothing missed, nothing twice', async ({ server }) => {
    const reader = server.client();
    await reader.orders.createMany.mutate({
      orders: Array.from({ length: 20 }, (_, i) => ({ customerName: `seam ${i}`, productName: 'p' })),
    });
    const start = Number(server.app.hub.position);
    const writing = writeConcurrently(server, 4, 100);
    // Take the snapshot while the writers are busy: once they have made some changes.
    await expect.poll(() => Number(server.app.hub.position), { timeout: 20_000 }).toBeGreaterThan(start + 40);

    const snapshot = await reader.orders.list.query({ limit: 1000 });
    expect(snapshot.nextCursor).toBeNull();
    const subscriber = record(reader, { lastEventId: snapshot.lastEventId });
    await writing;

    const expected = await server.logAfter(snapshot.lastEventId);
    expect(expected.length).toBeGreaterThan(0);
    await subscriber.waitForCount(expected.length);
    expect(subscriber.events.map((e) => e.id)).toEqual(expected.map((e) => e.id));

    // What a page does: the snapshot plus the events after it is the table now.
    const state = new Map(snapshot.orders.map((o) => [o.id, o]));
    for (const e of subscriber.events) {
      if (e.type === 'deleted') state.delete(e.orderId);
      else state.set(e.orderId, e.order);
    }
    const now = await reader.orders.list.query({ limit: 1000 });
    expect([...state.values()].sort((a, b) => Number(a.id) - Number(b.id))).toEqual(now.orders);
  });
});
