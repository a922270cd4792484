import { createTRPCClient, httpBatchLink, httpLink, TRPCClientError } from '@trpc/client';
import { describe, expect } from 'vitest';
import type { AppRouter } from '../server/routers/app.ts';
import { authorizationHeader, MAX_BATCH_OPERATIONS } from '../shared/protocol.ts';
import { testWithServer, type TestServer } from './support/server.ts';

// Each request gets writer tokens of its own (a fresh rate-limit bucket of 3 writes), so the
// rate limit is reached only where a request means to reach it.
const WRITERS = Array.from({ length: 48 }, (_, i) => `w${i}`);
const secretOf = (name: string) => `${name}-secret-0123456789abcdef`;
const READER = 'r-secret-0123456789abcdef';
const test = testWithServer({
  AUTH_TOKENS: [...WRITERS.map((name) => `${name}:writer:${secretOf(name)}`), `rita:reader:${READER}`].join(','),
  WRITE_RATE_LIMIT: '3',
  MAX_BODY_BYTES: '4096',
});
let unusedWriter = 0;
const freshWriter = () => secretOf(WRITERS[unusedWriter++]!);

type Side = 'trpc' | 'lean';
type Request = { path: string; headers?: Record<string, string>; body?: string };
type Answer = { status: number; headers: Record<string, string>; body: unknown };

// Framing and per-request headers: the lean path sends Content-Length, tRPC's handler chunks.
const NOT_COMPARED = new Set(['date', 'x-request-id', 'content-length', 'transfer-encoding', 'connection', 'keep-alive']);

/** A row's id (also in messages) and times differ between two creates of the same input; the rest must not. */
function normalized(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalized);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => {
      if (key === 'id' && typeof v === 'string' && /^[1-9][0-9]*$/.test(v)) return [key, '<id>'];
      if ((key === 'createdAt' || key === 'updatedAt') && typeof v === 'string') return [key, '<time>'];
      if (key === 'message' && typeof v === 'string') return [key, v.replace(/\border [1-9][0-9]*/g, 'order <id>')];
      return [key, normalized(v)];
    }),
  );
}

async function send(server: TestServer, side: Side, request: Request): Promise<Answer> {
  server.drills.httpMutations.bypass(side === 'trpc');
  try {
    const res = await fetch(`${server.url}${request.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...request.headers },
      body: request.body,
    });
    const text = await res.text();
    const headers = Object.fromEntries([...res.headers].filter(([name]) => !NOT_COMPARED.has(name)));
    return { status: res.status, headers, body: normalized(JSON.parse(text)) };
  } finally {
    server.drills.httpMutations.bypass(false);
  }
}

/**
 * Sends a request to tRPC's own handler and its twin to the lean path (`make` builds each,
 * so that each may have its own token or order), and expects the same answer. `lean` says
 * whether the lean path must have answered it, or left it to tRPC's handler.
 */
async function conforms(server: TestServer, make: (side: Side) => Request, lean: boolean): Promise<Answer> {
  const reference = await send(server, 'trpc', make('trpc'));
  const before = server.drills.httpMutations.answered();
  const answer = await send(server, 'lean', make('lean'));
  expect(server.drills.httpMutations.answered() - before).toBe(lean ? 1 : 0);
  expect(answer).toEqual(reference);
  return answer;
}

const writer = () => authorizationHeader(freshWriter());
const order = (name: string) => ({ customerName: name, productName: 'Widget' });
const created = async (server: TestServer) => {
  const client = server.client({ token: freshWriter() });
  return client.orders.create.mutate(order('target'));
};

describe('tRPC mutations over HTTP: the lean path answers as tRPC does', () => {
  test('creates, batches, createMany, update and delete', async ({ server }) => {
    const single = await conforms(server, () => ({ path: '/trpc/orders.create', headers: writer(), body: JSON.stringify(order('one')) }), true);
    expect(single.status).toBe(200);
    expect(single.body).toMatchObject({ result: { data: { id: '<id>', customerName: 'one', status: 'pending' } } });
    expect(single.headers).toMatchObject({ 'content-type': 'application/json', vary: 'trpc-accept, accept', 'x-frame-options': 'DENY' });

    const batch = { path: '/trpc/orders.create,orders.create?batch=1', body: JSON.stringify({ 0: order('a'), 1: order('b') }) };
    expect((await conforms(server, () => ({ ...batch, headers: writer() }), true)).status).toBe(200);

    const many = { path: '/trpc/orders.createMany', body: JSON.stringify({ orders: [order('m1'), order('m2')] }) };
    expect((await conforms(server, () => ({ ...many, headers: writer() }), true)).body).toMatchObject({ result: { data: [{}, {}] } });

    const targets = { trpc: await created(server), lean: await created(server) };
    const update = await conforms(
      server,
      (side) => ({ path: '/trpc/orders.update', headers: writer(), body: JSON.stringify({ id: targets[side].id, status: 'shipped', expectedVersion: 1 }) }),
      true,
    );
    expect(update.body).toMatchObject({ result: { data: { status: 'shipped', version: 2 } } });
    const stale = await conforms(
      server,
      (side) => ({ path: '/trpc/orders.update', headers: writer(), body: JSON.stringify({ id: targets[side].id, status: 'cancelled', expectedVersion: 1 }) }),
      true,
    );
    expect(stale.status).toBe(409);
    expect((await conforms(server, (side) => ({ path: '/trpc/orders.delete', headers: writer(), body: JSON.stringify({ id: targets[side].id }) }), true)).status).toBe(200);
    const missing = { path: '/trpc/orders.delete', body: JSON.stringify({ id: '987654321' }) };
    expect((await conforms(server, () => ({ ...missing, headers: writer() }), true)).status).toBe(404);
  });

  test('errors: validation, access, rate limit, bad bodies, mixed batches', async ({ server }) => {
    const invalid = await conforms(server, () => ({ path: '/trpc/orders.create', headers: writer(), body: JSON.stringify(order('')) }), true);
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({ error: { data: { code: 'BAD_REQUEST', fieldErrors: { customerName: [expect.any(String)] } } } });
    // No body at all: no input, which the schema refuses.
    expect((await conforms(server, () => ({ path: '/trpc/orders.create', headers: writer() }), true)).status).toBe(400);

    const create = { path: '/trpc/orders.create', body: JSON.stringify(order('x')) };
    expect((await conforms(server, () => create, true)).status).toBe(401);
    expect((await conforms(server, () => ({ ...create, headers: authorizationHeader(READER) }), true)).status).toBe(403);
    // Bad JSON from a caller without a token: refused first (the body is read only for a caller who may write).
    expect((await conforms(server, () => ({ path: '/trpc/orders.create', body: '{"customerName":' }), true)).status).toBe(401);

    const malformed = await conforms(server, () => ({ path: '/trpc/orders.create', headers: writer(), body: '{"customerName":' }), true);
    expect(malformed.status).toBe(400);
    const tooLarge = await conforms(server, () => ({ ...create, headers: writer(), body: JSON.stringify(order('x'.repeat(5000))) }), true);
    expect(tooLarge.status).toBe(413);
    const notAnObject = { path: '/trpc/orders.create,orders.create?batch=1', body: JSON.stringify([order('a'), order('b')]) };
    expect((await conforms(server, () => ({ ...notAnObject, headers: writer() }), true)).status).toBe(400);

    const mixed = { path: '/trpc/orders.create,orders.create?batch=1', body: JSON.stringify({ 0: order('fine'), 1: order('') }) };
    const mixedAnswer = await conforms(server, () => ({ ...mixed, headers: writer() }), true);
    expect(mixedAnswer.status).toBe(207);
    expect(mixedAnswer.body).toMatchObject([{ result: {} }, { error: { data: { code: 'BAD_REQUEST' } } }]);

    // A bucket of 3 writes: the rest of a batch of 5 is refused, then a single create, each with Retry-After.
    const tokens = { trpc: freshWriter(), lean: freshWriter() };
    const five = '/trpc/' + Array.from({ length: 5 }, () => 'orders.create').join(',') + '?batch=1';
    const burst = await conforms(
      server,
      (side) => ({ path: five, headers: authorizationHeader(tokens[side]), body: JSON.stringify(Object.fromEntries([0, 1, 2, 3, 4].map((i) => [i, order(`r${i}`)]))) }),
      true,
    );
    expect(burst.status).toBe(207);
    expect(burst.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
    const limited = await conforms(server, (side) => ({ ...create, headers: authorizationHeader(tokens[side]) }), true);
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
  });

  test('what the lean path leaves to tRPC is answered by tRPC', async ({ server }) => {
    const unknown = await conforms(server, () => ({ path: '/trpc/orders.nope', headers: writer(), body: '{}' }), false);
    expect(unknown.status).toBe(404);
    const query = await conforms(server, () => ({ path: '/trpc/orders.list', headers: writer(), body: '{}' }), false);
    expect(query.status).toBe(405);
    const paths = Array.from({ length: MAX_BATCH_OPERATIONS + 1 }, () => 'orders.create').join(',');
    expect((await conforms(server, () => ({ path: `/trpc/${paths}?batch=1`, headers: writer(), body: '{}' }), false)).status).toBe(400);
    const text = await conforms(server, () => ({ path: '/trpc/orders.create', headers: { ...writer(), 'content-type': 'text/plain' }, body: '{}' }), false);
    expect(text.status).toBe(415);
  });

  test("tRPC's typed client, batched and not, works against the lean path", async ({ server }) => {
    const url = `${server.url}/trpc`;
    const before = server.drills.httpMutations.answered();
    for (const link of [httpBatchLink, httpLink]) {
      const client = createTRPCClient<AppRouter>({ links: [link({ url, headers: authorizationHeader(freshWriter()) })] });
      const [a, b] = await Promise.all([client.orders.create.mutate(order('typed a')), client.orders.create.mutate(order('typed b'))]);
      expect([a.customerName, b.customerName]).toEqual(['typed a', 'typed b']);
      expect(await client.orders.get.query({ id: a.id })).toEqual(a);
      const err = await client.orders.create.mutate(order('')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TRPCClientError);
      expect((err as TRPCClientError<AppRouter>).data).toMatchObject({ code: 'BAD_REQUEST', fieldErrors: { customerName: [expect.any(String)] } });
    }
    // httpBatchLink: one batch of two creates, then the error; httpLink: three requests.
    expect(server.drills.httpMutations.answered() - before).toBe(5);
  });
});
