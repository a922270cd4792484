import { expect, vi } from 'vitest';
import type { TestServer } from './server.ts';

/**
 * Runs `writers` concurrent loops making `each` changes apiece over HTTP: creates, updates,
 * and now and then a delete. Each change is one event in the log.
 */
export async function writeConcurrently(server: TestServer, writers: number, each: number): Promise<void> {
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const client = server.client({ transport: 'sse' }); // mutations over plain HTTP
      let id: string | undefined;
      for (let change = 0; change < each; change++) {
        if (id === undefined) {
          id = (await client.orders.create.mutate({ customerName: `writer ${w}`, productName: `#${change}` })).id;
        } else if (change % 50 === 49) {
          await client.orders.delete.mutate({ id });
          id = undefined;
        } else {
          await client.orders.update.mutate({ id, productName: `#${change}` });
        }
      }
    }),
  );
}

/**
 * For a subscriber that stopped reading: writes `events` orders (createMany, 1,000 a call)
 * and waits until the hub has published them all, while sampling every 10 ms the largest of
 * `bufferedBytes()`, what the server holds for its subscribers, until `stop()`.
 */
export async function floodWhileSampling(
  server: TestServer,
  events: number,
  bufferedBytes: () => number[],
): Promise<{ largest(): number; stop(): void }> {
  let largest = 0;
  const sampler = setInterval(() => {
    for (const bytes of bufferedBytes()) largest = Math.max(largest, bytes);
  }, 10);
  const client = server.client({ transport: 'sse' }); // mutations over plain HTTP
  for (let made = 1; made < events; made += 1000) {
    await client.orders.createMany.mutate({
      orders: Array.from({ length: Math.min(1000, events - made) }, (_, i) => ({ customerName: `c${made + i}`, productName: 'p' })),
    });
  }
  const [{ last }] = await server.sql<[{ last: string }]>`select max(id)::text as last from order_events`;
  await vi.waitFor(() => expect(server.app.hub.position).toBe(last), { timeout: 30_000 });
  return { largest: () => largest, stop: () => clearInterval(sampler) };
}
