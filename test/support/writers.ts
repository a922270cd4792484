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
