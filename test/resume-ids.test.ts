/**
 * Resume ids (shared/resume-id.ts): the tracked id names the event as well as its position,
 * and a resume from an event the log no longer holds as the client saw it is refused. Here
 * another event at a position is made by rewriting the stored row in SQL, which is what a
 * failover or a restore amounts to for the log; test/failover.test.ts does it for real.
 */
import { TRPCClientError } from '@trpc/client';
import { createLiveOrders, type ResyncNotice } from 'live-orders-client';
import { describe, expect, vi } from 'vitest';
import { eventDigest } from '../server/db/event-digest.ts';
import { orderEvents } from '../server/db/schema.ts';
import { parseResumeId, positionOf } from '../shared/resume-id.ts';
import { sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type postgres from 'postgres';
import { test, type Client } from './support/server.ts';
import { record, type Recorder } from './support/subscriber.ts';
import { NodeWebSocket } from './support/node-web-socket.ts';

const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);
const DIVERGED = /is no longer in the log as you saw it/;
const transports = ['websocket', 'sse'] as const;

async function refusal(recorder: Recorder): Promise<unknown> {
  await vi.waitFor(() => expect(recorder.errors).toHaveLength(1), { timeout: 15_000 });
  return recorder.errors[0];
}

/** The digest of the stored event at `position`, computed by the one definition, on `db` (a transaction too). */
async function digestOf(db: postgres.Sql | postgres.TransactionSql, position: string): Promise<string | undefined> {
  const query = new PgDialect().sqlToQuery(sql`select ${eventDigest} as digest from ${orderEvents} where ${orderEvents.id} = ${BigInt(position)}`);
  const [row] = await db.unsafe<Array<{ digest: string }>>(query.sql, query.params as postgres.ParameterOrJSON<never>[]);
  return row?.digest;
}

async function change(client: Client, name: string) {
  return client.orders.create.mutate({ customerName: name, productName: 'p' });
}

describe('resume ids', () => {
  test('orders.list gives lastEventId plain and resumeId with its event digest; subscriptions track the same ids, live and replayed', async ({ server }) => {
    const writer = server.client({ transport: 'sse' });
    const empty = await writer.orders.list.query({ limit: 1 });
    expect(empty).toMatchObject({ lastEventId: '0', resumeId: '0' }); // no event to name yet

    const live = record(server.client(), { lastEventId: '0' });
    await change(writer, 'a');
    await change(writer, 'b');
    await live.waitForCount(2);
    const replayed = record(server.client({ transport: 'sse' }), { lastEventId: '0' });
    await replayed.waitForCount(2);

    const listed = await writer.orders.list.query({ limit: 1 });
    const digests = await Promise.all(live.events.map((e) => digestOf(server.sql, e.id)));
    const expected = live.events.map((e, i) => `${e.id}.${digests[i]}`);
    expect(live.ids).toEqual(expected);
    expect(replayed.ids).toEqual(expected);
    expect(listed.resumeId).toBe(expected.at(-1));
    expect(listed.lastEventId).toBe(positionOf(listed.resumeId));
    // The event's own JSON keeps the plain position.
    expect(live.events.map((e) => e.id)).toEqual(expected.map(positionOf));
    live.stop();
    replayed.stop();
  });

  test('the digest covers every stored field but the position, and no session setting changes it', async ({ server }) => {
    await change(server.client({ transport: 'sse' }), 'digest');
    const [{ id }] = await server.sql<[{ id: string }]>`select max(id)::text as id from order_events`;
    const original = await digestOf(server.sql, id);
    expect(original).toMatch(/^[0-9a-f]{16}$/);

    await server.sql.begin(async (tx) => {
      await tx`set local timezone = 'Pacific/Kiritimati'`;
      await tx`set local datestyle = 'SQL, DMY'`;
      expect(await digestOf(tx, id)).toBe(original);
    });

    // Another event at the same position (as after a failover) differs in one of these at least.
    const rewrites = [
      `at = at + interval '1 millisecond'`,
      `actor = actor || 'x'`,
      `"order" = jsonb_set("order", '{version}', '2')`,
      `changes = '{"status":{"from":"pending","to":"shipped"}}'`,
      `type = 'updated'`,
      `order_id = order_id + 1`,
    ];
    for (const rewrite of rewrites) {
      // Each rewrite is rolled back (by the throw), so the next starts from the original.
      const rolledBack = server.sql.begin(async (tx) => {
        await tx.unsafe(`update order_events set ${rewrite} where id = ${id}`);
        expect(await digestOf(tx, id), rewrite).not.toBe(original);
        throw new Error('roll back');
      });
      await expect(rolledBack).rejects.toThrow('roll back');
    }
    expect(await digestOf(server.sql, id)).toBe(original);
  });

  for (const transport of transports) {
    test(`over ${transport}: a resume from an event that is no longer at its position is refused; the right one, or a plain position, resumes`, async ({ server }) => {
      const writer = server.client({ transport: 'sse' });
      const client = server.client({ transport });
      const from = (await writer.orders.list.query({ limit: 1 })).lastEventId;
      const first = record(client, { lastEventId: from });
      await change(writer, 'seen');
      await first.waitForCount(1);
      first.stop();
      const seen = first.ids[0]!;
      await change(writer, 'after');

      const { position, digest } = parseResumeId(seen);
      const right = record(client, { lastEventId: seen });
      const plain = record(client, { lastEventId: position });
      await right.waitForCount(1);
      await plain.waitForCount(1);
      expect(right.events.map((e) => e.order.customerName)).toEqual(['after']);
      expect(plain.events).toEqual(right.events);

      const other = `${position}.${digest === '0000000000000000' ? '1111111111111111' : '0000000000000000'}`;
      const error = await refusal(record(client, { lastEventId: other }));
      expect(codeOf(error)).toBe('PRECONDITION_FAILED');
      expect((error as Error).message).toMatch(DIVERGED);
      expect((error as Error).message).toContain(`event ${position} `);
      right.stop();
      plain.stop();
    });
  }

  test('an event gone from a position inside the log is refused; one exactly at the pruned end is not (it cannot be checked, and nothing after it is missing)', async ({ server }) => {
    const writer = server.client({ transport: 'sse' });
    const from = (await writer.orders.list.query({ limit: 1 })).lastEventId;
    const seen = record(server.client(), { lastEventId: from });
    await change(writer, 'one');
    await change(writer, 'two');
    await change(writer, 'three');
    await seen.waitForCount(3);
    seen.stop();
    const [one, two] = seen.ids as [string, string];

    await server.sql`delete from order_events where id = ${positionOf(two)}`;
    const gone = await refusal(record(server.client(), { lastEventId: two }));
    expect(codeOf(gone)).toBe('PRECONDITION_FAILED');
    expect((gone as Error).message).toMatch(DIVERGED);

    // Pruned through `one` (as the pruner does: the events and the mark in one transaction).
    await server.sql.begin(async (tx) => {
      await tx`delete from order_events where id <= ${positionOf(one)}`;
      await tx`insert into order_events_pruned (through) values (${positionOf(one)}) on conflict (single) do update set through = excluded.through`;
    });
    const atPrunedEnd = record(server.client(), { lastEventId: one });
    await atPrunedEnd.waitForCount(1);
    expect(atPrunedEnd.ids).toEqual([seen.ids[2]]);
    atPrunedEnd.stop();
  });

  test('a history that changes under a running server: live subscribers whose last event changed are told, filtered ones whose last event stayed go on, the listener goes on', async ({ server }) => {
    const writer = server.client({ transport: 'sse' });
    const from = (await writer.orders.list.query({ limit: 1 })).lastEventId;
    const watched = await change(writer, 'watched');
    // Filtered: the last event it receives is the watched order's, which stays as it was.
    const filtered = transports.map((transport) => record(server.client({ transport }), { lastEventId: from, orderId: watched.id }));
    for (const s of filtered) await s.waitForCount(1);
    const subscribers = transports.map((transport) => record(server.client({ transport }), { lastEventId: from }));
    await change(writer, 'before');
    for (const s of subscribers) await s.waitForCount(2);
    const last = positionOf(subscribers[0]!.ids.at(-1)!);

    // The event everyone saw last becomes another (as a failover that lost it, and a new
    // write at its position, would make it), then the log goes on.
    await server.sql`update order_events set actor = 'the other history' where id = ${last}`;
    await change(writer, 'after');
    for (const s of subscribers) {
      const error = await refusal(s);
      expect(codeOf(error)).toBe('PRECONDITION_FAILED');
      expect((error as Error).message).toMatch(DIVERGED);
    }

    // The filtered ones saw nothing that changed: they go on, with no gap and no refusal.
    await writer.orders.update.mutate({ id: watched.id, status: 'shipped' });
    for (const s of filtered) {
      await s.waitForCount(2);
      expect(s.events.map((e) => [e.orderId, e.type])).toEqual([[watched.id, 'created'], [watched.id, 'updated']]);
      expect(s.errors).toEqual([]);
      s.stop();
    }

    // The server itself went on from the new head: a new subscriber gets what comes next.
    const next = record(server.client(), {});
    await vi.waitFor(() => expect(server.app.hub.subscriberCount).toBeGreaterThan(0), { timeout: 5_000 });
    await change(writer, 'next');
    await next.waitForCount(1);
    expect(next.events[0]!.order.customerName).toBe('next');
    next.stop();
  });

  test('the client library: a saved resumeId resumes where it was, and is refused once its event is gone', async ({ server }) => {
    const writer = server.client({ transport: 'sse' });
    const first = createLiveOrders({ url: server.url, snapshot: false, WebSocket: NodeWebSocket });
    await first.ready;
    await change(writer, 'seen');
    const [{ head }] = await server.sql<[{ head: string }]>`select max(id)::text as head from order_events`;
    await vi.waitFor(() => expect(first.lastEventId).toBe(head), { timeout: 10_000 });
    const saved = first.resumeId!;
    expect(parseResumeId(saved)).toEqual({ position: head, digest: expect.stringMatching(/^[0-9a-f]{16}$/) });
    await first.close();

    await change(writer, 'while away');
    const again = createLiveOrders({ url: server.url, snapshot: false, from: saved, WebSocket: NodeWebSocket });
    const caught: string[] = [];
    again.on('change', (e) => caught.push(e.order.customerName));
    await vi.waitFor(() => expect(caught).toEqual(['while away']), { timeout: 10_000 });
    await again.close();

    // The saved event becomes another one (a failover or a restore): told, not resumed.
    await server.sql`update order_events set actor = 'the other history' where id = ${head}`;
    const third = createLiveOrders({ url: server.url, snapshot: false, from: saved, WebSocket: NodeWebSocket });
    const resyncs: ResyncNotice[] = [];
    third.on('resynced', (n) => resyncs.push(n));
    await vi.waitFor(() => expect(resyncs).toHaveLength(1), { timeout: 10_000 });
    expect(resyncs[0]!.reason).toMatch(DIVERGED);
    await third.close();
  });

  test('a bad lastEventId is BAD_REQUEST naming the field; nothing starts', async ({ server }) => {
    for (const transport of transports) {
      const error = await refusal(record(server.client({ transport }), { lastEventId: '12.not-a-digest' }));
      expect(codeOf(error)).toBe('BAD_REQUEST');
      expect((error as Error).message).toContain('lastEventId');
    }
  });
});
