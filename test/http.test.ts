import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { describe, expect } from 'vitest';
import type { AppRouter } from '../server/routers/app.ts';
import { test } from './support/server.ts';
import { record } from './support/subscriber.ts';

async function call(url: string, method: string, body?: unknown, raw?: string) {
  const res = await fetch(url, {
    method,
    headers: body === undefined && raw === undefined ? {} : { 'content-type': 'application/json' },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), body: text ? JSON.parse(text) : undefined };
}

describe('REST, as in the seed', () => {
  test("the seed's Postman flow works unchanged, and its changes are pushed", async ({ server }) => {
    const api = `${server.url}/api/orders`;
    const { lastEventId } = await server.client().events.list.query({});
    const watcher = record(server.client(), { lastEventId });

    const created = await call(api, 'POST', { customer_name: 'Sahil', product_name: 'Laptop', status: 'pending' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ customer_name: 'Sahil', product_name: 'Laptop', status: 'pending', version: 1 });
    const id = created.body.id as string;

    // The seed updates with POST /api/orders/:id; PUT and PATCH work the same.
    const shipped = await call(`${api}/${id}`, 'POST', { status: 'shipped' });
    expect(shipped).toMatchObject({ status: 200, body: { id, status: 'shipped', version: 2 } });
    expect((await call(`${api}/${id}`, 'PUT', { product_name: 'Laptop Pro' })).body.product_name).toBe('Laptop Pro');
    expect((await call(`${api}/${id}`, 'PATCH', { customer_name: 'Sahil K' })).body.version).toBe(4);

    expect(await call(`${api}/${id}`, 'GET')).toMatchObject({ status: 200, body: { id, customer_name: 'Sahil K' } });
    const list = await call(api, 'GET');
    expect(list.status).toBe(200);
    expect(list.body.orders).toContainEqual(expect.objectContaining({ id, status: 'shipped' }));

    expect((await call(`${api}/${id}`, 'DELETE')).status).toBe(200);
    expect(await call(`${api}/${id}`, 'GET')).toMatchObject({ status: 404, body: { error: `order ${id} not found` } });
    expect((await call(`${api}/${id}`, 'DELETE')).status).toBe(404);

    await watcher.waitForCount(5);
    expect(watcher.events.map((e) => e.type)).toEqual(['created', 'updated', 'updated', 'updated', 'deleted']);
  });

  test('bad requests get 400 naming the problem and write nothing; unknown routes 404 JSON', async ({ server }) => {
    const api = `${server.url}/api/orders`;
    const [{ count: before }] = await server.sql<[{ count: string }]>`select count(*) from order_events`;

    const cases: Array<[string, string, unknown, string | undefined, RegExp]> = [
      [api, 'POST', undefined, '{not json', /not valid JSON/],
      [api, 'POST', undefined, '', /body is empty/],
      [api, 'POST', [1, 2], undefined, /JSON object/],
      [api, 'POST', { customer_name: '', product_name: 'x' }, undefined, /customer_name: must not be empty/],
      [api, 'POST', { customer_name: 'x', product_name: 'y', status: 'teleported' }, undefined, /status/],
      [api, 'POST', { customerName: 'x', product_name: 'y' }, undefined, /unknown field: customerName \(REST speaks snake_case: customer_name\)/],
      [`${api}/abc`, 'GET', undefined, undefined, /id/],
      [`${api}/1`, 'PUT', {}, undefined, /at least one of/],
      [`${api}?limit=5000`, 'GET', undefined, undefined, /limit/],
    ];
    for (const [url, method, body, raw, message] of cases) {
      const res = await call(url, method, body, raw);
      expect(res.status, `${method} ${url} ${raw ?? JSON.stringify(body)}`).toBe(400);
      expect(res.type).toContain('application/json');
      expect(res.body.error).toMatch(message);
    }
    const [{ count: after }] = await server.sql<[{ count: string }]>`select count(*) from order_events`;
    expect(after).toBe(before);

    expect(await call(`${server.url}/api/nothing`, 'GET')).toMatchObject({ status: 404, body: { error: expect.any(String) } });
    expect((await call(api, 'DELETE')).status).toBe(405);
  });

  test('a body over the limit gets 413', async ({ server }) => {
    const res = await call(`${server.url}/api/orders`, 'POST', undefined, JSON.stringify({ customer_name: 'x'.repeat(2_000_000), product_name: 'y' }));
    expect(res.status).toBe(413);
  });
});

describe('HTTP batching', () => {
  test('100 creates made together travel as one HTTP request', async ({ server }) => {
    const requests: string[] = [];
    const client = createTRPCClient<AppRouter>({
      links: [
        httpBatchLink({
          url: `${server.url}/trpc`,
          maxItems: 100,
          fetch: (url, init) => {
            requests.push(String(url));
            return fetch(url, init);
          },
        }),
      ],
    });
    const created = await Promise.all(
      Array.from({ length: 100 }, (_, i) => client.orders.create.mutate({ customerName: `batch ${i}`, productName: 'b' })),
    );
    expect(requests).toHaveLength(1);
    expect(new Set(created.map((o) => o.id)).size).toBe(100);
    const [{ count }] = await server.sql<[{ count: string }]>`
      select count(*) from orders where customer_name like 'batch %'`;
    expect(Number(count)).toBe(100);
  });
});

describe('/healthz and /', () => {
  test('/healthz reports the database and listener', async ({ server }) => {
    const res = await call(`${server.url}/healthz`, 'GET');
    expect(res).toMatchObject({ status: 200, body: { ok: true, database: 'up', listener: 'listening' } });
  });

  test('/ serves the page', async ({ server }) => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('live-orders');
  });
});
