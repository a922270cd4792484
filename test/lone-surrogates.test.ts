import { describe, expect } from 'vitest';
import { rowCounts } from './support/row-counts.ts';
import { test } from './support/server.ts';

// A lone surrogate has no UTF-8 form; PostgreSQL would store U+FFFD in its place, and the order
// would silently differ from what was sent. Written out as JSON escapes, as a client sends them.
const LONE = ['\\ud800', '\\udfff', 'a\\udc00b', '\\udc00\\ud800', 'x\\ud83d'];

describe('lone UTF-16 surrogates', () => {
  test('are refused with 400 / BAD_REQUEST naming the field, over tRPC and REST, and nothing is written', async ({ server }) => {
    const [order] = await server.sql<{ id: string }[]>`insert into orders (customer_name, product_name) values ('Ada', 'Loom') returning id`;
    const id = order!.id;
    const before = await rowCounts(server.sql);

    const post = async (path: string, json: string) => {
      const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json });
      return { status: res.status, body: await res.json() };
    };
    const trpcMessage = (b: { error: { message: string; data: { code: string } } }) => {
      expect(b.error.data.code).toBe('BAD_REQUEST');
      return b.error.message;
    };

    for (const lone of LONE) {
      const cases: Array<[string, string, string, (b: never) => string]> = [
        ['/trpc/orders.create', `{"customerName":"${lone}","productName":"p"}`, 'customerName', trpcMessage],
        ['/trpc/orders.create', `{"customerName":"c","productName":"${lone}"}`, 'productName', trpcMessage],
        ['/trpc/orders.create', `{"customerName":"c","productName":"p","idempotencyKey":"${lone}"}`, 'idempotencyKey', trpcMessage],
        ['/trpc/orders.createMany', `{"orders":[{"customerName":"ok","productName":"ok"},{"customerName":"${lone}","productName":"p"}]}`, 'orders.1.customerName', trpcMessage],
        ['/trpc/orders.update', `{"id":"${id}","productName":"${lone}"}`, 'productName', trpcMessage],
        ['/api/orders', `{"customer_name":"${lone}","product_name":"p"}`, 'customer_name', (b: { error: string }) => b.error],
        ['/api/orders', `{"customer_name":"c","product_name":"p","idempotency_key":"${lone}"}`, 'idempotency_key', (b: { error: string }) => b.error],
        [`/api/orders/${id}`, `{"customer_name":"${lone}"}`, 'customer_name', (b: { error: string }) => b.error],
      ];
      for (const [path, json, field, message] of cases) {
        const { status, body } = await post(path, json);
        expect(status, `${path} ${json}`).toBe(400);
        expect(message(body as never), `${path} ${json}`).toContain(`${field}: must not contain a lone UTF-16 surrogate`);
      }
    }

    expect(await rowCounts(server.sql)).toEqual(before);
    const [row] = await server.sql`select customer_name, product_name, version from orders where id = ${id}`;
    expect(row).toEqual({ customer_name: 'Ada', product_name: 'Loom', version: 1 });
  });

  test('surrogate pairs (any character beyond the BMP) are stored and returned as sent', async ({ server }) => {
    const client = server.client();
    const name = '🧨 \ud835\udc9c𝒜 😀';
    const created = await client.orders.create.mutate({ customerName: name, productName: '\u{10FFFF}', idempotencyKey: '🔑' });
    expect(created).toMatchObject({ customerName: name, productName: '\u{10FFFF}' });
    const [row] = await server.sql`select customer_name, product_name from orders where id = ${created.id}`;
    expect(row).toEqual({ customer_name: name, product_name: '\u{10FFFF}' });
  });
});
