import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { TRPCClientError } from '@trpc/client';
import { decodeJwt, exportSPKI, SignJWT, UnsecuredJWT } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLiveOrders } from 'live-orders-client';
import type { AppRouter } from '../server/routers/app.ts';
import type { OrderEvent } from '../shared/orders.ts';
import { startIdentityProvider, type IdentityProvider } from './support/identity-provider.ts';
import { sample } from './support/metrics-text.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { record } from './support/subscriber.ts';
import { NodeWebSocket } from './support/node-web-socket.ts';

const AUDIENCE = 'https://orders.example/api';
const STATIC_WRITER = 'static-writer-0123456789abcdef';
const SKEW_S = 1;

let idp: IdentityProvider;
let server: TestServer & { close(): Promise<void> };
/** Every line the server logged in this file, to prove no credential is ever among them. */
const logLines: string[] = [];
/** Every credential this file presented. */
const presented = new Set<string>();

beforeAll(async () => {
  idp = await startIdentityProvider({
    audience: AUDIENCE,
    accounts: [],
    services: [
      { id: 'ingest', secret: 'ingest-secret-0123456789', roles: ['writer'] },
      { id: 'reporting', secret: 'reporting-secret-0123456789', roles: ['reader'] },
      { id: 'no-role', secret: 'no-role-secret-0123456789', roles: ['auditor'] },
      // Tokens that expire mid-stream.
      { id: 'brief', secret: 'brief-secret-0123456789', roles: ['reader'], ttlSeconds: 3 },
    ],
  });
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  server = await startTestServer(
    {
      AUTH_TOKENS: `ops:writer:${STATIC_WRITER}`,
      AUTH_JWT_ISSUER: idp.issuer,
      AUTH_JWT_AUDIENCE: AUDIENCE,
      AUTH_JWT_CLOCK_SKEW: `${SKEW_S}s`,
    },
    pino({ level: 'debug' }, sink),
  );
});

afterAll(async () => {
  await server?.close();
  await idp?.close();
});

const token = async (clientId: string) => {
  const t = await idp.serviceToken(clientId);
  presented.add(t);
  return t;
};

async function code(call: Promise<unknown>): Promise<string> {
  const err = await call.then(() => undefined, (e: unknown) => e);
  if (err === undefined) return 'ok';
  if (!(err instanceof TRPCClientError)) throw err;
  return (err as TRPCClientError<AppRouter>).data?.code ?? err.message;
}

const refusals = async (reason: string) => {
  const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${STATIC_WRITER}` } })).text();
  return sample(text, 'live_orders_authentication_refusals_total', { reason }) ?? 0;
};

describe('bearer JWTs from the identity provider', () => {
  test('a service token from the provider writes, and the event\'s actor is its subject; static tokens still work', async () => {
    const ingest = await token('ingest');
    const viaHttp = await server.client({ token: ingest }).orders.create.mutate({ customerName: 'Jet', productName: 'Token' });
    const viaWs = await server.client({ token: ingest, allOverWebSocket: true }).orders.create.mutate({ customerName: 'Jet', productName: 'Socket' });
    const viaRest = await fetch(`${server.url}/api/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ingest}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customer_name: 'Jet', product_name: 'Rest' }),
    });
    expect(viaRest.status).toBe(201);
    const restId = ((await viaRest.json()) as { id: string }).id;
    const events = await server.logAfter('0');
    for (const id of [viaHttp.id, viaWs.id, restId]) {
      expect(events.find((e) => e.orderId === id && e.type === 'created')?.actor).toBe('ingest');
    }
    const viaStatic = await server.client({ token: STATIC_WRITER }).orders.create.mutate({ customerName: 'Ops', productName: 'Static' });
    expect((await server.logAfter('0')).find((e) => e.orderId === viaStatic.id)?.actor).toBe('ops');
  });

  test('a service token with the reader role reads and subscribes, and cannot write over any transport', async () => {
    const reporting = await token('reporting');
    const before = (await server.logAfter('0')).length;
    for (const client of [server.client({ token: reporting }), server.client({ token: reporting, allOverWebSocket: true })]) {
      expect((await client.orders.list.query({})).orders.length).toBeGreaterThan(0);
      expect(await code(client.orders.create.mutate({ customerName: 'r', productName: 'x' }))).toBe('FORBIDDEN');
    }
    const rest = await fetch(`${server.url}/api/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reporting}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customer_name: 'r', product_name: 'x' }),
    });
    expect(rest.status).toBe(403);
    const sub = record(server.client({ token: reporting, transport: 'sse' }), { lastEventId: '0' });
    await sub.waitForCount(before);
    sub.stop();
    expect((await server.logAfter('0')).length).toBe(before);
  });

  test('a token whose role claim names neither writer nor reader is FORBIDDEN', async () => {
    const noRole = await token('no-role');
    const err = await server.client({ token: noRole }).orders.list.query({}).catch((e: unknown) => e);
    expect((err as TRPCClientError<AppRouter>).data?.code).toBe('FORBIDDEN');
    expect((err as Error).message).toMatch(/roles.*neither writer nor reader/);
  });
});

/** Opens orders.onChange as Server-Sent Events with `bearer` and reads until its error event (10 s at most). */
async function readEventStreamError(bearer: string): Promise<{ events: number; error: string }> {
  const url = `${server.url}/trpc/orders.onChange?input=${encodeURIComponent(JSON.stringify({ lastEventId: '0' }))}`;
  const response = await fetch(url, { headers: { authorization: `Bearer ${bearer}`, accept: 'text/event-stream' }, signal: AbortSignal.timeout(10_000) });
  let text = '';
  const decoder = new TextDecoder();
  const reader = response.body!.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    text += decoder.decode(chunk.value, { stream: true });
    const error = /event: serialized-error\ndata: (.*)\n/.exec(text);
    if (error) {
      await reader.cancel().catch(() => {});
      return { events: (text.match(/^id: /gm) ?? []).length, error: error[1]! };
    }
  }
  throw new Error(`the event stream ended without an error: ${text.slice(0, 500)}`);
}

describe('tokens the server must refuse, over every transport', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const claims = () => ({ sub: 'mallory', roles: ['writer'], iss: idp.issuer, aud: AUDIENCE, iat: now(), exp: now() + 600 });

  const forged: Array<[string, string, RegExp, () => Promise<string>]> = [
    ['expired', 'expired', /expired/, () => idp.sign({ ...claims(), iat: now() - 600, exp: now() - 60 })],
    ['not yet valid', 'not_yet_valid', /not valid yet/, () => idp.sign({ ...claims(), nbf: now() + 600 })],
    ['for another audience', 'wrong_audience', /another audience/, () => idp.sign({ ...claims(), aud: 'https://elsewhere.example/' })],
    ['from another issuer', 'wrong_issuer', /another issuer/, () => idp.sign({ ...claims(), iss: 'https://evil.example' })],
    [
      'signed with a key not the provider\'s (same kid)',
      'bad_signature',
      /signature/,
      async () => {
        const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
        return new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: idp.signingKey.kid }).sign(privateKey);
      },
    ],
    ['alg none', 'algorithm_not_allowed', /algorithm/, async () => new UnsecuredJWT(claims()).encode()],
    [
      'HS256 with the provider\'s public key as the secret',
      'algorithm_not_allowed',
      /algorithm/,
      async () => {
        const { createPublicKey } = await import('node:crypto');
        const publicPem = await exportSPKI(createPublicKey({ key: idp.signingKey.jwk as never, format: 'jwk' }));
        return new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: idp.signingKey.kid }).sign(new TextEncoder().encode(publicPem));
      },
    ],
  ];

  for (const [what, reason, message, make] of forged) {
    test(`${what}: UNAUTHORIZED over tRPC HTTP, WebSocket, SSE and REST, counted as ${reason}, nothing written`, async () => {
      const bad = await make();
      presented.add(bad);
      const before = await refusals(reason);
      const events = (await server.logAfter('0')).length;

      const http = server.client({ token: bad });
      const httpErr = (await http.orders.list.query({}).catch((e: unknown) => e)) as TRPCClientError<AppRouter>;
      expect(httpErr.data?.code).toBe('UNAUTHORIZED');
      expect(httpErr.message).toMatch(message);
      expect(await code(http.orders.create.mutate({ customerName: 'm', productName: 'x' }))).toBe('UNAUTHORIZED');

      const ws = server.client({ token: bad, allOverWebSocket: true });
      expect(await code(ws.orders.list.query({}))).toBe('UNAUTHORIZED');
      const wsSub = record(ws, { lastEventId: '0' });
      await expect.poll(() => wsSub.errors.length, { timeout: 10_000 }).toBe(1);
      expect((wsSub.errors[0] as TRPCClientError<AppRouter>).data?.code).toBe('UNAUTHORIZED');
      expect(wsSub.events).toEqual([]);
      await server.disconnect(ws);

      // SSE: the stream's own request, as EventSource sends it; tRPC answers with an error event.
      const sse = await readEventStreamError(bad);
      expect(sse.events).toBe(0);
      expect(sse.error).toMatch(/UNAUTHORIZED/);
      expect(sse.error).toMatch(message);

      const rest = await fetch(`${server.url}/api/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bad}`, 'content-type': 'application/json' },
        body: JSON.stringify({ customer_name: 'm', product_name: 'x' }),
      });
      expect(rest.status).toBe(401);
      expect(((await rest.json()) as { error: string }).error).toMatch(message);

      expect((await server.logAfter('0')).length).toBe(events);
      // At least one each: tRPC HTTP query and mutation, WebSocket, SSE, REST (a WebSocket
      // client may connect more than once).
      expect(await refusals(reason)).toBeGreaterThanOrEqual(before + 5);
    });
  }
});

describe('a stream ends when its token does, and the client library resumes with a fresh one', () => {
  for (const transport of ['websocket', 'sse'] as const) {
    test(`${transport}: ended UNAUTHORIZED within seconds of exp; every event exactly once across the renewals`, async () => {
      const writer = server.client({ token: STATIC_WRITER });
      const start = (await writer.orders.list.query({ limit: 1 })).lastEventId;
      const issued: string[] = [];
      const live = createLiveOrders({
        url: server.url,
        transport,
        snapshot: false,
        from: start,
        WebSocket: NodeWebSocket,
        // Asked on every request and (re)connect; a fresh token only when the last is near its end.
        token: async () => {
          const last = issued.at(-1);
          if (last && (decodeJwt(last).exp! - 1) * 1000 > Date.now()) return last;
          const fresh = await token('brief');
          issued.push(fresh);
          return fresh;
        },
      });
      const received: OrderEvent[] = [];
      const ended: Array<{ at: number; exp: number }> = [];
      const errors: Array<{ message: string; code: string | undefined; fatal: boolean }> = [];
      live.on('change', (e) => received.push(e));
      live.on('error', ({ error, fatal }) => {
        const code = (error as TRPCClientError<AppRouter>).data?.code;
        errors.push({ message: error.message, code, fatal });
        if (code === 'UNAUTHORIZED') ended.push({ at: Date.now(), exp: decodeJwt(issued.at(-1)!).exp! * 1000 });
      });
      await live.ready;

      // Writes keep coming while two tokens run out (3 s each).
      let written = 0;
      while (ended.length < 2) {
        await writer.orders.create.mutate({ customerName: `exp-${transport}`, productName: String(written++) });
        await new Promise((resolve) => setTimeout(resolve, 50));
        if (written > 600) throw new Error(`the stream never ended: ${ended.length} ends seen`);
      }
      for (const e of ended) {
        // Not before the token's exp (plus the skew the server allows), and within a few seconds of it.
        expect(e.at).toBeGreaterThanOrEqual(e.exp + SKEW_S * 1000 - 50);
        expect(e.at).toBeLessThan(e.exp + SKEW_S * 1000 + 5_000);
      }
      // Each end asked for a fresh token (the last one's renewal may still be on its way).
      await expect.poll(() => issued.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
      // Never stopped; any other error (a connection reset on a busy machine) was retried.
      expect(errors.filter((e) => e.fatal)).toEqual([]);

      const log = await server.logAfter(start);
      expect(log.length).toBe(written);
      await expect.poll(() => received.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(log.length);
      expect(received.map((e) => e.id)).toEqual(log.map((e) => e.id));
      await live.close();
    });
  }
});

test('no log line shows a token', () => {
  expect(presented.size).toBeGreaterThan(10);
  const all = logLines.join('');
  expect(all.length).toBeGreaterThan(0);
  for (const credential of [...presented, STATIC_WRITER]) {
    expect(all.includes(credential)).toBe(false);
    // Nor its signature part alone (alg none has none).
    const signature = credential.split('.').at(-1)!;
    if (signature) expect(all.includes(signature)).toBe(false);
  }
});
