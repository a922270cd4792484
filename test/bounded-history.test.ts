import { TRPCClientError } from '@trpc/client';
import { describe, expect, vi } from 'vitest';
import { test, type Client, type TestServer } from './support/server.ts';
import { record, type Recorder } from './support/subscriber.ts';

const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);

async function currentPosition(client: Client): Promise<string> {
  return (await client.orders.list.query({ limit: 1 })).lastEventId;
}

/** Waits for the subscription to fail, and returns its error. */
async function refusal(recorder: Recorder): Promise<unknown> {
  await vi.waitFor(() => expect(recorder.errors).toHaveLength(1), { timeout: 15_000 });
  expect(recorder.events).toEqual([]);
  return recorder.errors[0];
}

const transports = ['websocket', 'sse'] as const;

async function makeChanges(server: TestServer, count: number): Promise<void> {
  await server.client({ transport: 'sse' }).orders.createMany.mutate({
    orders: Array.from({ length: count }, (_, i) => ({ customerName: `change ${i}`, productName: 'p' })),
  });
}

describe('a position ahead of the log (as after a database restore)', () => {
  for (const transport of transports) {
    test(`orders.onChange over ${transport} refuses it with PRECONDITION_FAILED, and serves the last position itself`, async ({ server }) => {
      await makeChanges(server, 2);
      const client = server.client({ transport });
      const last = await currentPosition(client);
      const ahead = String(Number(last) + 1000);

      const refused = record(client, { lastEventId: ahead });
      const error = await refusal(refused);
      expect(codeOf(error)).toBe('PRECONDITION_FAILED');
      expect((error as Error).message).toContain(`position ${ahead} is ahead of the log`);

      // The last position is no gap: it resumes with what comes next.
      const fine = record(client, { lastEventId: last });
      await makeChanges(server, 1);
      await fine.waitForCount(1);
      expect(fine.events.map((e) => e.id)).toEqual((await server.logAfter(last)).map((e) => e.id));
      fine.stop();
      refused.stop();
    });
  }

  test('events.list refuses an `after` ahead of the log, and pages on from the last position', async ({ server }) => {
    await makeChanges(server, 1);
    const client = server.client({ transport: 'sse' });
    const last = await currentPosition(client);
    const error = await client.events.list.query({ after: String(Number(last) + 1) }).catch((e: unknown) => e);
    expect(codeOf(error)).toBe('PRECONDITION_FAILED');
    await expect(client.events.list.query({ after: last })).resolves.toEqual({ events: [], lastEventId: last });
  });
});
