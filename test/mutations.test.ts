import { TRPCClientError } from '@trpc/client';
import { describe, expect } from 'vitest';
import type { AppRouter } from '../server/routers/app.ts';
import type { TestServer } from './support/server.ts';
import { rowCounts } from './support/row-counts.ts';
import { test } from './support/server.ts';

const counts = (server: TestServer) => rowCounts(server.sql);

/** The error a call fails with (the test fails if it does not fail). */
async function failure(call: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof TRPCClientError)) throw new Error(`expected a TRPCClientError, got ${String(err)}`);
  return err;
}

describe('mutations', () => {
  test('create trims names, defaults the status, and round-trips through get and list', async ({ server }) => {
    const client = server.client();
    const order = await client.orders.create.mutate({ customerName: '  Ada  ', productName: 'Engine' });
    expect(order).toMatchObject({ customerName: 'Ada', productName: 'Engine', status: 'pending', version: 1 });
    expect(order.id).toMatch(/^[1-9][0-9]*$/);
    expect(new Date(order.createdAt).toISOString()).toBe(order.createdAt);
    expect(await client.orders.get.query({ id: order.id })).toEqual(order);
    const pending = await client.orders.list.query({ status: 'pending', limit: 1000 });
    expect(pending.orders).toContainEqual(order);
  });

  test('createMany returns orders in input order, all in one transaction', async ({ server }) => {
    const client = server.client();
    const input = Array.from({ length: 300 }, (_, i) => ({ customerName: `bulk ${i}`, productName: 'box', status: 'confirmed' as const }));
    const created = await client.orders.createMany.mutate({ orders: input });
    expect(created.map((o) => o.customerName)).toEqual(input.map((i) => i.customerName));
    const events = await server.sql`select distinct xmin from order_events where order_id = any(${created.map((o) => o.id)}::bigint[])`;
    expect(events).toHaveLength(1); // one writing transaction

    // One bad item: nothing of the batch is written, and the error names the item.
    const before = await counts(server);
    const err = await failure(
      client.orders.createMany.mutate({ orders: [{ customerName: 'ok', productName: 'ok' }, { customerName: 'bad', productName: '' }] }),
    );
    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.message).toContain('orders.1.productName');
    expect(await counts(server)).toEqual(before);
  });

  test('idempotencyKey: a retried create returns the first order and appends no second event', async ({ server }) => {
    const client = server.client();
    const request = { customerName: 'Retry', productName: 'Safe', idempotencyKey: 'checkout-42' };
    const first = await client.orders.create.mutate(request);
    const before = await counts(server);
    // Retries, some concurrent, as a flaky network makes them.
    const retries = await Promise.all([1, 2, 3].map(() => client.orders.create.mutate(request)));
    expect(retries).toEqual([first, first, first]);
    expect(await counts(server)).toEqual(before);

    // The same key for another order is refused, not silently answered with the first.
    const err = await failure(client.orders.create.mutate({ ...request, productName: 'Different' }));
    expect(err.data?.code).toBe('CONFLICT');
    expect(err.message).toContain('checkout-42');

    // Keys work inside createMany too, also twice in one batch.
    const batch = await client.orders.createMany.mutate({
      orders: [request, { customerName: 'New', productName: 'One', idempotencyKey: 'k2' }, { customerName: 'New', productName: 'One', idempotencyKey: 'k2' }],
    });
    expect(batch[0]).toEqual(first);
    expect(batch[1]).toEqual(batch[2]);
    expect(await counts(server)).toEqual({ orders: before.orders + 1, events: before.events + 1 });
  });

  test('expectedVersion: a stale update or delete gets CONFLICT and changes nothing', async ({ server }) => {
    const client = server.client();
    const order = await client.orders.create.mutate({ customerName: 'Opt', productName: 'Lock' });
    const v2 = await client.orders.update.mutate({ id: order.id, status: 'confirmed', expectedVersion: 1 });
    expect(v2.version).toBe(2);

    const before = await counts(server);
    const stale = await failure(client.orders.update.mutate({ id: order.id, status: 'cancelled', expectedVersion: 1 }));
    expect(stale.data?.code).toBe('CONFLICT');
    expect(stale.message).toContain(`order ${order.id} is at version 2`);
    const staleDelete = await failure(client.orders.delete.mutate({ id: order.id, expectedVersion: 1 }));
    expect(staleDelete.data?.code).toBe('CONFLICT');
    expect(await client.orders.get.query({ id: order.id })).toEqual(v2);
    expect(await counts(server)).toEqual(before);

    await client.orders.delete.mutate({ id: order.id, expectedVersion: 2 });
    const gone = await failure(client.orders.update.mutate({ id: order.id, status: 'shipped' }));
    expect(gone.data?.code).toBe('NOT_FOUND');
    expect(gone.message).toBe(`order ${order.id} not found`);
  });

  test('bad input gets BAD_REQUEST naming the field, and writes nothing', async ({ server }) => {
    const client = server.client();
    const order = await client.orders.create.mutate({ customerName: 'Valid', productName: 'Order' });
    const before = await counts(server);
    const long = 'x'.repeat(201);
    const cases: Array<[Promise<unknown>, string]> = [
      [client.orders.create.mutate({ customerName: '   ', productName: 'p' }), 'customerName'],
      [client.orders.create.mutate({ customerName: 'c', productName: long }), 'productName'],
      [client.orders.create.mutate({ customerName: 'c', productName: 'p', status: 'lost' as never }), 'status'],
      [client.orders.create.mutate({ customerName: 'c\u0000', productName: 'p' }), 'customerName'],
      [client.orders.create.mutate({ customerName: 42 as never, productName: 'p' }), 'customerName'],
      [client.orders.create.mutate({ customerName: 'c', productName: 'p', extra: 1 } as never), 'extra'],
      [client.orders.update.mutate({ id: order.id }), 'customerName'],
      [client.orders.update.mutate({ id: 'abc', status: 'shipped' }), 'id'],
      [client.orders.update.mutate({ id: '99999999999999999999', status: 'shipped' }), 'id'],
      [client.orders.update.mutate({ id: order.id, status: 'shipped', expectedVersion: 0 }), 'expectedVersion'],
      [client.orders.delete.mutate({ id: '-1' }), 'id'],
      [client.orders.createMany.mutate({ orders: [] }), 'orders'],
      [client.orders.list.query({ limit: 1001 }), 'limit'],
      [client.events.list.query({ after: 'x' }), 'after'],
    ];
    for (const [call, field] of cases) {
      const err = await failure(call);
      expect(err.data?.code, err.message).toBe('BAD_REQUEST');
      expect(err.message).toContain(field);
    }
    expect(await counts(server)).toEqual(before);
    expect(await client.orders.get.query({ id: order.id })).toEqual(order);
  });
});
