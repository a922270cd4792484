import { describe, expect } from 'vitest';
import { createDatabase } from '../server/db/client.ts';
import { pruneEventBatch } from '../server/db/prune-events.ts';
import { byId, codeOf, countsOf, listAllAsOf, replay, writeHistory } from './support/replay.ts';
import { test } from './support/server.ts';

describe('time travel: orders.list and orders.counts with asOf', () => {
  test('every position shows exactly the rows the log says, paged, filtered, also after pruning; outside the log: PRECONDITION_FAILED', async ({ server }) => {
    const client = server.client();
    const start = (await client.events.head.query()).lastEventId;
    await writeHistory(server, client);
    const log = await server.logAfter('0');
    const head = log.at(-1)!.id;
    // Every position of this test's history (the file's earlier tests wrote the rest).
    const positions = [start, ...log.filter((e) => BigInt(e.id) > BigInt(start)).map((e) => e.id)];

    const check = async (position: string) => {
      const expected = byId(replay(log, position).values());
      expect(await listAllAsOf(client, position, 3), `asOf ${position}`).toEqual(expected);
      const counts = await client.orders.counts.query({ asOf: position });
      expect(counts).toEqual({ counts: countsOf(expected), total: expected.length, lastEventId: position });
    };
    for (const position of positions) await check(position);
    for (const status of ['shipped', 'pending'] as const) {
      for (const position of positions.filter((_, i) => i % 4 === 0)) {
        const expected = byId([...replay(log, position).values()].filter((o) => o.status === status));
        expect(await listAllAsOf(client, position, 2, status), `asOf ${position}, ${status}`).toEqual(expected);
      }
    }

    // The REST list takes it too, snake_case.
    const middle = positions[Math.floor(positions.length / 2)]!;
    const rest = await fetch(`${server.url}/api/orders?as_of=${middle}&limit=1000`);
    expect(rest.status).toBe(200);
    const body = (await rest.json()) as { orders: { id: string; status: string }[]; last_event_id: string };
    expect(body.last_event_id).toBe(middle);
    expect(body.orders.map((o) => [o.id, o.status])).toEqual(byId(replay(log, middle).values()).map((o) => [o.id, o.status]));
    const refused = await fetch(`${server.url}/api/orders?as_of=${BigInt(head) + 1n}`);
    expect(refused.status).toBe(412);
    expect(((await refused.json()) as { error: string }).error).toContain('ahead of the log');

    const ahead = (BigInt(head) + 1n).toString();
    for (const query of [client.orders.list.query({ asOf: ahead }), client.orders.counts.query({ asOf: ahead })]) {
      const err = await query.catch((e: unknown) => e);
      expect(codeOf(err)).toBe('PRECONDITION_FAILED');
      expect((err as Error).message).toContain(`ahead of the log, which ends at ${head}`);
    }

    // Prune the first half: what is left still rebuilds every position from the pruned end on.
    const { sql, db } = createDatabase(server.app.databaseUrl);
    try {
      await server.sql`update order_events set at = at - interval '2 hours'`;
      const upTo = log.findIndex((e) => e.id === positions[Math.floor(positions.length / 2)]) + 1;
      expect(await pruneEventBatch(db, 3_600_000, upTo)).toMatchObject({ deleted: upTo, prunedThrough: log[upTo - 1]!.id });
    } finally {
      await sql.end();
    }
    const prunedEnd = positions[Math.floor(positions.length / 2)]!;
    for (const position of positions.filter((p) => BigInt(p) >= BigInt(prunedEnd))) await check(position);
    const before = (BigInt(prunedEnd) - 1n).toString();
    for (const query of [client.orders.list.query({ asOf: before }), client.orders.counts.query({ asOf: before })]) {
      const err = await query.catch((e: unknown) => e);
      expect(codeOf(err)).toBe('PRECONDITION_FAILED');
      expect((err as Error).message).toContain(`before the oldest position the log can rebuild, ${prunedEnd}`);
    }
  });
});
