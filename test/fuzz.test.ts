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

const text = fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ unit: 'grapheme', maxLength: 250 }), fc.string({ maxLength: 5 }));
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
        fc.option(idLike.map(encodeURIComponent), { nil: undefined }),
        body,
        async (method, id, payload) => {
          const before = await count();
          const url = `${server.url}/api/orders${id === undefined ? '' : `/${id}`}`;
          const res = await fetch(url, { method, body: method === 'GET' || method === 'DELETE' ? undefined : payload });
          expect(res.status, `${method} ${url} ${payload}`).toBeLessThan(500);
          expect(res.headers.get('content-type')).toContain('application/json');
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
