/**
 * Our WebSocket transport against tRPC's own adapter: the same scripted sessions run against
 * `applyWSSHandler` (with our router, here only) and against `createWebSocketTransport`, each
 * on a fresh database of its own, so ids and positions come out the same; the replies are
 * compared message by message (times aside), grouped by request id, each group in order.
 * `npm run check:upgrade` runs this file against the newest @trpc/* and ws.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startApp, type App } from '../server/app.ts';
import { loadConfig, type Config } from '../server/config.ts';
import { createLogger } from '../server/logger.ts';
import { positionOf } from '../shared/resume-id.ts';
import { createTestDatabase } from './support/server.ts';
import {
  byRequest,
  count,
  messagesFor,
  runSession,
  startEndpoint,
  type Implementation,
  type Sql,
  type Step,
  type Transcript,
} from './support/ws-session.ts';

const W1 = 'w1-secret-0123456789';
const W2 = 'w2-secret-0123456789';
const LIMITED = 'limited-secret-0123456789';
const READER = 'reader-secret-0123456789';
const ENV = {
  AUTH_TOKENS: `w1:writer:${W1},w2:writer:${W2},limited:writer:${LIMITED},reader:reader:${READER}`,
  WRITE_RATE_LIMIT: '5',
};

type Environment = { app: App; config: Config; sql: Sql; close(): Promise<void> };
const environments = {} as Record<Implementation, Environment>;
/** The environment whose session runs now (sessions run one implementation at a time). */
let current: Environment | undefined;

async function startEnvironment(): Promise<Environment> {
  const database = await createTestDatabase();
  const config = loadConfig({ DATABASE_URL: database.url, PORT: '0', HOST: '127.0.0.1', ...ENV });
  const app = await startApp(config, createLogger('silent'));
  const client = postgres(database.url, { max: 2, onnotice: () => {} });
  return {
    app,
    config,
    sql: (query) => client.unsafe(query) as unknown as Promise<Array<Record<string, unknown>>>,
    async close() {
      await client.end();
      await app.close();
      await database.drop();
    },
  };
}

beforeAll(async () => {
  environments.stock = await startEnvironment();
  environments.ours = await startEnvironment();
});
afterAll(async () => {
  await Promise.all(Object.values(environments).map((e) => e.close()));
});

/** Runs one session against each implementation, in turn, on its own endpoint. */
async function both(query: string, steps: Step[], keepAlive?: { pingMs: number; pongWaitMs: number }) {
  const transcripts = {} as Record<Implementation, Transcript>;
  for (const implementation of ['stock', 'ours'] as const) {
    const env = environments[implementation];
    current = env;
    const endpoint = await startEndpoint(implementation, env.app, env.config, keepAlive);
    try {
      transcripts[implementation] = await runSession(endpoint, env.sql, query, steps);
    } finally {
      await endpoint.close();
    }
  }
  return transcripts;
}

const params = (token: unknown) => ({ method: 'connectionParams', data: { token } });
const call = (id: unknown, method: string, path: string, input?: unknown, extra: Record<string, unknown> = {}) => ({
  id,
  method,
  params: { path, input, ...extra },
});
const total = (n: number) => (t: Transcript) => t.messages.length >= n;
const errorCode = (t: Transcript, id: unknown) =>
  (messagesFor(t, id).find((m) => 'error' in m)?.error as { data?: { code?: string } } | undefined)?.data?.code;
const dataOf = (t: Transcript, id: unknown) =>
  messagesFor(t, id).filter((m) => (m.result as { type?: string } | undefined)?.type === 'data');
const maxPosition = async (ctx: { sql: Sql }) =>
  String((await ctx.sql('select coalesce(max(id), 0)::text as p from order_events'))[0]!.p);

/**
 * Waits until the server's hub has published every event in the log, so that a subscription
 * started at the live end next starts after them on both implementations alike (the
 * listener publishes a moment after the commit, sooner or later as the machine allows).
 */
const hubCaughtUp: Step = {
  run: async (ctx) => {
    const head = await maxPosition(ctx);
    await expect.poll(() => BigInt(current!.app.hub.position) >= BigInt(head), { timeout: 10_000 }).toBe(true);
  },
};

/** Sends a request and waits for its first reply. */
const ask = (message: { id: unknown; [key: string]: unknown }): Step[] => [{ send: message }, { until: count(message.id, 1), what: `a reply to ${JSON.stringify(message.id)}` }];
const end: Step[] = [{ send: 'PING' }, { until: (t) => t.messages.includes('PONG'), what: 'PONG' }, { shutdown: true }];

const ODD_ID = 'odd "quoted" \\ ünï </script> \u2028 💥 \u0000 {"id":1}';

describe('tRPC WebSocket protocol: our transport replies as tRPC’s applyWSSHandler does', () => {
  test('queries and mutations: ids of every kind, jsonrpc, batches, PING, reconnect notification', async () => {
    const steps: Step[] = [
      { send: params(W1) },
      ...ask(call(1, 'query', 'events.list', { after: '0' })),
      ...ask({ ...call('abc', 'mutation', 'orders.create', { customerName: 'Ada', productName: 'Loom' }), jsonrpc: '2.0' }),
      ...[ODD_ID, 0, -7, 1.5, 2 ** 53 - 1, '', '1'].flatMap((id) => ask(call(id, 'query', 'orders.get', { id: '1' }))),
      // Run at once: the reads must not depend on whether the batch's write landed first.
      {
        send: [
          call(10, 'query', 'orders.get', { id: '1' }),
          { ...call(11, 'query', 'events.list', { after: '0', limit: 1 }), jsonrpc: '2.0' },
          call('m', 'mutation', 'orders.create', { customerName: 'Grace', productName: 'Compiler' }),
          call(12, 'query', 'orders.history', { id: '1' }),
        ],
      },
      { until: (t) => [10, 11, 'm', 12].every((id) => count(id, 1)(t)), what: 'the batch answered' },
      ...end,
    ];
    const t = await both('?connectionParams=1', steps);
    expect(byRequest(t.ours)).toEqual(byRequest(t.stock));
    // Not vacuous: the things compared are there.
    expect(messagesFor(t.ours, ODD_ID)).toHaveLength(1);
    expect(messagesFor(t.ours, 'abc')[0]).toMatchObject({ jsonrpc: '2.0', result: { type: 'data', data: { customerName: 'Ada' } } });
    expect(t.ours.messages).toContain('{"id":null,"method":"reconnect"}');
    expect(t.ours.closed).toEqual({ code: 1012, reason: 'server restarting' });
  });

  test('errors: bad input, unknown procedure, wrong kind, malformed messages, bad ids, binary frames', async () => {
    let n = 0;
    const next = (send: unknown): Step[] => {
      n++;
      const expected = n;
      return [{ send }, { until: total(expected), what: `reply ${expected}` }];
    };
    const steps: Step[] = [
      { send: params(W2) },
      ...next(call(1, 'query', 'orders.get', { id: 'abc' })),
      ...next(call(2, 'mutation', 'orders.create', { customerName: '', productName: 'x', extra: 1 })),
      ...next(call(3, 'query', 'orders.nope')),
      ...next(call(4, 'mutation', 'orders.list')),
      ...next(call(5, 'subscription', 'orders.list')),
      ...next(call(6, 'query', 'orders.onChange')),
      ...next(call(null, 'query', 'orders.list')),
      ...next('not json'),
      ...next({ id: true, method: 'query', params: { path: 'orders.list' } }),
      ...next({ id: 7, method: 'nope', params: { path: 'orders.list' } }),
      ...next({ id: 8, method: 'query' }),
      ...next(Buffer.from(JSON.stringify(call(9, 'query', 'orders.list')))),
      ...next(call(10, 'subscription', 'orders.onChange', {}, { lastEventId: 5 })),
      ...next(call(11, 'subscription', 'orders.onChange', {}, { lastEventId: 'not a position' })),
      ...next(call(12, 'subscription', 'orders.onChange', { lastEventId: '1', bogus: true })),
      // An empty batch gets no reply at all: the next reply is the next request's.
      { send: [] },
      ...next(call(13, 'query', 'orders.get', { id: '1' })),
      ...end,
    ];
    const t = await both('?connectionParams=1', steps);
    expect(byRequest(t.ours)).toEqual(byRequest(t.stock));
    expect(errorCode(t.ours, 1)).toBe('BAD_REQUEST');
    expect(errorCode(t.ours, 3)).toBe('NOT_FOUND');
    expect(errorCode(t.ours, null)).toBe('PARSE_ERROR');
  });

  test('connectionParams and access: UNAUTHORIZED, FORBIDDEN, malformed params', async () => {
    const sessions: Array<[string, Step[]]> = [
      // Tokens are required and none was sent.
      ['', [...ask(call(1, 'query', 'orders.list')), ...ask(call(2, 'subscription', 'orders.onChange', {})), ...end]],
      ['?connectionParams=1', [{ send: params('not a known token at all') }, ...ask(call(1, 'query', 'orders.list')), ...end]],
      ['?connectionParams=1', [{ send: params(READER) }, ...ask(call(1, 'mutation', 'orders.create', { customerName: 'R', productName: 'x' })), ...ask(call(2, 'query', 'orders.get', { id: '1' })), ...end]],
      ['?connectionParams=1', [{ send: { method: 'connectionParams', data: null } }, ...ask(call(1, 'query', 'orders.list')), ...end]],
      ['?connectionParams=1', [{ send: 'garbage' }, { until: (t) => t.closed !== undefined, what: 'closed' }]],
      ['?connectionParams=1', [{ send: params(5) }, { until: (t) => t.closed !== undefined, what: 'closed' }]],
      ['?connectionParams=1', [{ send: [params(W1)] }, { until: (t) => t.closed !== undefined, what: 'closed' }]],
    ];
    const codes: Array<string | undefined> = [];
    for (const [query, steps] of sessions) {
      const t = await both(query, steps);
      expect(byRequest(t.ours)).toEqual(byRequest(t.stock));
      codes.push(errorCode(t.ours, 1) ?? errorCode(t.ours, null));
    }
    expect(codes).toEqual(['UNAUTHORIZED', 'UNAUTHORIZED', 'FORBIDDEN', 'UNAUTHORIZED', 'PARSE_ERROR', 'PARSE_ERROR', 'PARSE_ERROR']);
  });

  test('subscriptions: started, replay, live, filters, jsonrpc, duplicate id, stop and resubscribe, lastEventId param', async () => {
    const sub = (id: unknown, input: unknown, extra: Record<string, unknown> = {}) => call(id, 'subscription', 'orders.onChange', input, extra);
    const steps: Step[] = [
      { send: params(W1) },
      { run: async (ctx) => void (ctx.vars.from = await maxPosition(ctx)) },
      { sql: `insert into orders (customer_name, product_name, status) values ('S', 'a', 'pending'), ('S', 'b', 'shipped'), ('S', 'c', 'pending')` },
      { compose: (ctx) => sub(1, { lastEventId: ctx.vars.from }) },
      { until: (t) => dataOf(t, 1).length >= 3, what: 'the replay on 1' },
      { compose: (ctx) => ({ ...sub('s', { lastEventId: ctx.vars.from, status: 'shipped' }), jsonrpc: '2.0' }) },
      { until: (t) => dataOf(t, 's').length >= 1, what: 'the filtered replay on s' },
      hubCaughtUp,
      { send: sub(3, {}) },
      { until: count(3, 1, 'started'), what: '3 started' },
      { sql: `update orders set status = 'shipped' where product_name = 'a'` },
      { until: (t) => dataOf(t, 1).length >= 4 && dataOf(t, 's').length >= 2 && dataOf(t, 3).length >= 1, what: 'the live update' },
      { send: sub(1, {}) },
      { until: (t) => errorCode(t, 1) !== undefined, what: 'Duplicate id' },
      { send: { id: 1, method: 'subscription.stop' } },
      { until: count(1, 1, 'stopped'), what: '1 stopped' },
      { sql: `insert into orders (customer_name, product_name) values ('S', 'd')` },
      { until: (t) => dataOf(t, 3).length >= 2, what: 'the insert on 3' },
      { compose: (ctx) => sub(1, { lastEventId: (dataOf(ctx.transcript, 1).at(-1)!.result as { id: string }).id }) },
      { until: (t) => dataOf(t, 1).length >= 5, what: 'the missed insert replayed on 1' },
      { send: [{ id: 3, method: 'subscription.stop' }, sub(3, {})] },
      { until: count(3, 1, 'stopped'), what: '3 stopped' },
      { compose: (ctx) => call(4, 'subscription', 'orders.onChange', {}, { lastEventId: ctx.vars.from }) },
      { until: (t) => dataOf(t, 4).length >= 5, what: 'the replay on 4 (lastEventId as a parameter)' },
      ...end,
    ];
    const t = await both('?connectionParams=1', steps);
    expect(byRequest(t.ours)).toEqual(byRequest(t.stock));
    expect(dataOf(t.ours, 1)).toHaveLength(5);
    expect(dataOf(t.ours, 's')[0]).toMatchObject({ jsonrpc: '2.0', result: { data: { data: { order: { status: 'shipped' } } } } });
    expect(messagesFor(t.ours, 3).map((m) => ('error' in m ? 'error' : (m.result as { type: string }).type))).toEqual([
      'started', 'data', 'data', 'error', 'stopped',
    ]);
  });

  test('TOO_MANY_REQUESTS: the 33rd subscription on a connection, writes over the rate', async () => {
    const ids = Array.from({ length: 32 }, (_, i) => i + 1);
    const deletes = Array.from({ length: 7 }, (_, i) => `d${i + 1}`);
    const steps: Step[] = [
      { send: params(LIMITED) },
      { send: ids.map((id) => call(id, 'subscription', 'orders.onChange', {})) },
      { until: (t) => ids.every((id) => count(id, 1, 'started')(t)), what: '32 started' },
      { send: call(33, 'subscription', 'orders.onChange', {}) },
      { until: count(33, 1, 'stopped'), what: '33 stopped' },
      { send: deletes.map((id) => call(id, 'mutation', 'orders.delete', { id: '999999' })) },
      { until: (t) => deletes.every((id) => count(id, 1)(t)), what: 'every delete answered' },
      ...end,
    ];
    const t = await both('?connectionParams=1', steps);
    expect(byRequest(t.ours)).toEqual(byRequest(t.stock));
    expect(errorCode(t.ours, 33)).toBe('TOO_MANY_REQUESTS');
    expect(deletes.map((id) => errorCode(t.ours, id))).toEqual([...Array(5).fill('NOT_FOUND'), 'TOO_MANY_REQUESTS', 'TOO_MANY_REQUESTS']);
  });

  test('stop, then resubscribe with the same id while events flow: nothing missed, nothing twice', async () => {
    const steps: Step[] = [
      { send: params(W1) },
      { run: async (ctx) => void (ctx.vars.from = await maxPosition(ctx)) },
      { compose: (ctx) => call(7, 'subscription', 'orders.onChange', { lastEventId: ctx.vars.from }) },
      { until: count(7, 1, 'started'), what: 'started' },
      { startWriting: true },
      { until: (t) => dataOf(t, 7).length >= 20, what: '20 events' },
      { send: { id: 7, method: 'subscription.stop' } },
      { until: count(7, 1, 'stopped'), what: 'stopped' },
      { compose: (ctx) => call(7, 'subscription', 'orders.onChange', { lastEventId: (dataOf(ctx.transcript, 7).at(-1)!.result as { id: string }).id }) },
      { until: (t) => dataOf(t, 7).length >= 40, what: '20 more events' },
      { stopWriting: true },
      { run: async (ctx) => void (ctx.vars.to = await maxPosition(ctx)) },
      { until: (t, vars) => (dataOf(t, 7).at(-1)?.result as { data?: { data?: { id?: string } } } | undefined)?.data?.data?.id === vars.to, what: 'the last event written' },
      ...end,
    ];

    const t = await both('?connectionParams=1', steps);
    // How many events came before the stop depends on timing; the shape may not.
    expect(byRequest(t.ours, true)).toEqual(byRequest(t.stock, true));
    expect(byRequest(t.ours, true)['7']!.map((m) => (m === '<data...>' ? m : JSON.parse(m).result.type))).toEqual([
      'started', '<data...>', 'stopped', 'started', '<data...>',
    ]);
    for (const implementation of ['stock', 'ours'] as const) {
      const positions = dataOf(t[implementation], 7).map((m) => Number(positionOf((m.result as { id: string }).id)));
      const first = positions[0]!;
      // Strictly consecutive: this session's writer is the only one, and every position commits.
      expect(positions, implementation).toEqual(positions.map((_, i) => first + i));
    }
  });

  test('keep-alive: a PING after quiet, closed without a PONG, kept with one', async () => {
    const keepAlive = { pingMs: 150, pongWaitMs: 150 };
    const silent = await both('', [{ until: (t) => t.closed !== undefined, what: 'closed' }], keepAlive);
    expect(byRequest(silent.ours)).toEqual(byRequest(silent.stock));
    expect(silent.ours.messages).toEqual(['PING']);
    expect(silent.ours.closed?.code).toBe(1006);

    const pings = (n: number) => (t: Transcript) => t.messages.filter((m) => m === 'PING').length >= n;
    const answering = await both(
      '',
      [
        { until: pings(1), what: 'a PING' },
        { send: 'PONG' },
        { until: pings(2), what: 'a second PING' },
        { send: 'PONG' },
        { shutdown: true },
      ],
      keepAlive,
    );
    expect(byRequest(answering.ours)).toEqual(byRequest(answering.stock));
    expect(answering.ours.closed?.code).toBe(1012);
  });
});
