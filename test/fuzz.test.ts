import fc from 'fast-check';
import { describe, expect } from 'vitest';
import { rowCounts } from './support/row-counts.ts';
import { test } from './support/server.ts';

// Random, malformed, oversized and hostile input at every procedure and route: never a 500,
// never a crash, never a partial write; strings that are accepted come back verbatim.

const HOSTILE = [
  "'; DROP TABLE orders; --",
  "1' OR '1'='1",
  'Robert"); DELETE FROM order_events; --',
  '$1',
  '\\',
  '<script>alert(1)</script>',
  '%00',
  '\u202Eevil',
  '🧨'.repeat(50),
  'x'.repeat(200),
  ' '.repeat(3) + 'padded' + ' '.repeat(3),
];

// The whole of UTF-16: any code unit on its own (so lone surrogates, and pairs split or
// reversed), beside whole code points of every plane ('binary' never splits a pair).
const utf16Unit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
const text = fc.oneof(
  fc.constantFrom(...HOSTILE),
  fc.string({ unit: 'grapheme', maxLength: 250 }),
  fc.string({ maxLength: 5 }),
  fc.string({ unit: utf16Unit, maxLength: 40 }),
);
// Whether a string holds a surrogate that is not half of a pair (no UTF-8 form).
const hasLoneSurrogate = (value: unknown) => typeof value === 'string' && /[\uD800-\uDFFF]/u.test(value);
const anything = fc.oneof(fc.jsonValue({ maxDepth: 3 }), text, fc.integer(), fc.constant(null), fc.array(text, { maxLength: 3 }));
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(fc.oneof(arb, anything), { nil: undefined });
const idLike = fc.oneof(fc.constantFrom('1', '2', '0', '-1', '1e3', '9223372036854775807', '9223372036854775808', 'abc', ''), text, fc.integer().map(String));

const QUERIES = ['orders.list', 'orders.get', 'orders.history', 'events.list'];
const MUTATIONS = ['orders.create', 'orders.createMany', 'orders.update', 'orders.delete'];

const input = fc.oneof(
  anything,
  fc.record(
    {
      id: maybe(idLike),
      customerName: maybe(text),
      productName: maybe(text),
      status: maybe(fc.constantFrom('pending', 'shipped', 'PENDING', 'lost', '')),
      expectedVersion: maybe(fc.integer()),
      idempotencyKey: maybe(text),
      limit: maybe(fc.integer({ min: -5, max: 2000 })),
      after: maybe(idLike),
      cursor: maybe(idLike),
      orders: maybe(fc.array(fc.record({ customerName: text, productName: text }), { maxLength: 3 })),
    },
    { requiredKeys: [] },
  ),
);

describe('fuzzing', () => {
  test('tRPC procedures: random input never gets a 500, and a refused call writes nothing', async ({ server }) => {
    const count = async () => (await rowCounts(server.sql)).events;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...QUERIES, ...MUTATIONS), input, async (path, body) => {
        const before = await count();
        const res = MUTATIONS.includes(path)
          ? await fetch(`${server.url}/trpc/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
          : await fetch(`${server.url}/trpc/${path}?input=${encodeURIComponent(JSON.stringify(body) ?? '')}`);
        expect(res.status, `${path} ${JSON.stringify(body)}`).toBeLessThan(500);
        const reply = await res.json();
        const fields = body as Record<string, unknown> | null;
        if (path === 'orders.create' && typeof fields === 'object' && [fields?.customerName, fields?.productName, fields?.idempotencyKey].some(hasLoneSurrogate)) {
          expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400);
        }
        if (res.status >= 400) {
          expect(typeof reply.error.message).toBe('string');
          expect(await count()).toBe(before);
        } else if (path === 'orders.create') {
          // Accepted strings are stored and returned as sent (trimmed), hostile or not.
          const sent = body as { customerName: string; productName: string };
          expect(reply.result.data).toMatchObject({ customerName: sent.customerName.trim(), productName: sent.productName.trim() });
          const [row] = await server.sql`select customer_name, product_name from orders where id = ${reply.result.data.id}`;
          expect(row).toEqual({ customer_name: sent.customerName.trim(), product_name: sent.productName.trim() });
        }
      }),
      { numRuns: 300 },
    );
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  test('strings from the whole of UTF-16: stored exactly as sent, or refused with 400 when they hold a lone surrogate', async ({ server }) => {
    const [{ id }] = await server.sql<[{ id: string }]>`insert into orders (customer_name, product_name) values ('fuzz', 'target') returning id`;
    const name = fc.string({ unit: utf16Unit, minLength: 1, maxLength: 20 }).filter((s) => s.trim() !== '' && !s.includes('\u0000'));
    const call = fc.oneof(
      fc.record({ path: fc.constant('/trpc/orders.create'), body: fc.record({ customerName: name, productName: name, idempotencyKey: name }) }),
      fc.record({ path: fc.constant('/trpc/orders.createMany'), body: fc.record({ orders: fc.array(fc.record({ customerName: name, productName: name }), { minLength: 1, maxLength: 3 }) }) }),
      fc.record({ path: fc.constant('/trpc/orders.update'), body: fc.record({ id: fc.constant(id), customerName: name }) }),
      fc.record({ path: fc.constant('/api/orders'), body: fc.record({ customer_name: name, product_name: name, idempotency_key: name }) }),
      fc.record({ path: fc.constant(`/api/orders/${id}`), body: fc.record({ product_name: name }) }),
    );
    const strings = (value: unknown): string[] =>
      typeof value === 'string' ? [value] : typeof value === 'object' && value !== null ? Object.values(value).flatMap(strings) : [];
    let calls = 0;
    await fc.assert(
      fc.asyncProperty(call, async ({ path, body }) => {
        // A key seen before with another order is a CONFLICT: each call's key is its own.
        calls++;
        if ('idempotencyKey' in body) body.idempotencyKey = `${calls}:${body.idempotencyKey}`;
        if ('idempotency_key' in body) body.idempotency_key = `${calls}:${body.idempotency_key}`;
        const before = await rowCounts(server.sql);
        // JSON.stringify writes a lone surrogate as a \uXXXX escape, as any client's JSON would.
        const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        const reply = await res.json();
        if (strings(body).some(hasLoneSurrogate)) {
          expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400);
          expect(await rowCounts(server.sql)).toEqual(before);
          return;
        }
        expect(res.status, `${path} ${JSON.stringify(body)}`).toBeLessThan(300);
        const returned = path.startsWith('/trpc') ? reply.result.data : reply;
        const orders = (Array.isArray(returned) ? returned : [returned]) as Array<{ id: string }>;
        const rows = await server.sql<{ customer_name: string; product_name: string }[]>`
          select customer_name, product_name from orders where id in ${server.sql(orders.map((o) => o.id))} order by id`;
        const sent = ('orders' in body ? body.orders : [body]) as Array<Record<string, string>>;
        for (const [i, row] of rows.entries()) {
          const want = sent[Array.isArray(returned) ? i : 0]!;
          const customer = want.customerName ?? want.customer_name;
          const product = want.productName ?? want.product_name;
          if (customer !== undefined) expect(row.customer_name).toBe(customer.trim());
          if (product !== undefined) expect(row.product_name).toBe(product.trim());
        }
      }),
      { numRuns: 200 },
    );
  });

  test('REST routes: random bodies, ids and methods never get a 500, and a refused call writes nothing', async ({ server }) => {
    const count = async () => (await rowCounts(server.sql)).events;
    const body = fc.oneof(
      anything.map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 50 }),
      fc.record({ customer_name: maybe(text), product_name: maybe(text), status: maybe(text) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
        // A URL carries UTF-8, which has no form for a lone surrogate: such ids cannot be sent.
        fc.option(idLike.filter((id) => !hasLoneSurrogate(id)).map(encodeURIComponent), { nil: undefined }),
        body,
        async (method, id, payload) => {
          const before = await count();
          const url = `${server.url}/api/orders${id === undefined ? '' : `/${id}`}`;
          const res = await fetch(url, { method, body: method === 'GET' || method === 'DELETE' ? undefined : payload });
          expect(res.status, `${method} ${url} ${payload}`).toBeLessThan(500);
          expect(res.headers.get('content-type')).toContain('application/json');
          const fields = (() => {
            try {
              return JSON.parse(payload) as unknown;
            } catch {
              return undefined;
            }
          })() as Record<string, unknown> | null | undefined;
          if (method === 'POST' && id === undefined && typeof fields === 'object' && [fields?.customer_name, fields?.product_name].some(hasLoneSurrogate)) {
            expect(res.status, `${method} ${url} ${payload}`).toBe(400);
          }
          if (res.status >= 400) {
            expect(typeof (await res.json()).error).toBe('string');
            expect(await count()).toBe(before);
          }
        },
      ),
      { numRuns: 300 },
    );
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
