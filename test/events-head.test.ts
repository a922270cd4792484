import { describe, expect } from 'vitest';
import { test } from './support/server.ts';

describe('events.head', () => {
  test('is the position of the last event written, the same as a snapshot carries', async ({ server }) => {
    const client = server.client();
    const before = (await client.events.head.query()).lastEventId;
    expect(before).toBe((await client.orders.list.query({ limit: 1 })).lastEventId);

    const order = await client.orders.create.mutate({ customerName: 'Head', productName: 'Of the log' });
    await client.orders.update.mutate({ id: order.id, status: 'shipped' });
    await server.sql`insert into orders (customer_name, product_name) values ('From', 'SQL')`;

    const written = await server.logAfter(before);
    expect(written).toHaveLength(3);
    const { lastEventId } = await client.events.head.query();
    expect(lastEventId).toBe(written.at(-1)!.id);
    expect((await client.orders.list.query({ limit: 1 })).lastEventId).toBe(lastEventId);
  });

  test('a subscription from the head gets exactly the changes after it', async ({ server }) => {
    const client = server.client();
    await client.orders.create.mutate({ customerName: 'Before', productName: 'The head' });
    const { lastEventId: head } = await client.events.head.query();
    const received: string[] = [];
    const subscription = client.orders.onChange.subscribe({ lastEventId: head }, { onData: ({ data }) => received.push(data.order.customerName) });
    try {
      await client.orders.create.mutate({ customerName: 'After', productName: 'The head' });
      await expect.poll(() => received, { timeout: 10_000 }).toEqual(['After']);
    } finally {
      subscription.unsubscribe();
    }
  });
});
