/**
 * The transport serves any tRPC router, not only ours: a router of this test's own, whose
 * subscriptions are plain async generators and an observable (not `EventStream`s), goes
 * through the transport's generic per-value path. Its replies are compared message by
 * message with tRPC's own `applyWSSHandler` serving the same router, as
 * test/ws-conformance.test.ts does for the app's router.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initTRPC, tracked, TRPCError } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { observable } from '@trpc/server/observable';
import { describe, expect, test } from 'vitest';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import { createWebSocketTransport } from '../server/ws/transport.ts';
import { byRequest, count, runSession, type Endpoint, type Implementation, type Step } from './support/ws-session.ts';

type Ctx = { user: string };
const t = initTRPC.context<Ctx>().create();
const router = t.router({
  whoami: t.procedure.query(({ ctx }) => ctx.user),
  numbers: t.procedure.input(z.object({ upTo: z.number().int().min(0) })).subscription(async function* ({ input }) {
    for (let i = 1; i <= input.upTo; i++) yield i % 2 === 0 ? tracked(String(i), { n: i }) : { n: i };
  }),
  failing: t.procedure.subscription(async function* () {
    yield 'first';
    throw new TRPCError({ code: 'CONFLICT', message: 'gave up after one' });
  }),
  ticks: t.procedure.subscription(() =>
    observable<number>((emit) => {
      emit.next(1);
      emit.next(2);
      emit.complete();
    }),
  ),
  forever: t.procedure.subscription(async function* ({ signal }) {
    yield 'waiting';
    await new Promise((resolve) => signal?.addEventListener('abort', resolve, { once: true }));
  }),
});

const createContext = (): Ctx => ({ user: 'tester' });

async function startEndpoint(implementation: Implementation): Promise<Endpoint> {
  const server: Server = createServer((_, res) => res.writeHead(404).end());
  let stop: () => void;
  if (implementation === 'stock') {
    const wss = new WebSocketServer({ noServer: true });
    applyWSSHandler({ wss, router, createContext });
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
    stop = () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    };
  } else {
    // Typed on this router: no cast, and nothing of the app's router involved.
    const transport = createWebSocketTransport({ router, createContext, maxPayload: 1 << 20, keepAlive: { pingMs: 30_000, pongWaitMs: 5_000 } });
    server.on('upgrade', (req, socket, head) => transport.handleUpgrade(req, socket, head));
    stop = () => {
      transport.terminateAll();
      transport.stop();
    };
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/trpc`,
    shutdown: () => {},
    async close() {
      stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const noSql = async () => [];
const call = (id: number, method: string, path: string, input?: unknown) => ({ id, method, params: { path, input } });

describe('the transport on a router of its own', () => {
  test('generator and observable subscriptions, tracked and plain values, an error mid-stream, a stop: as tRPC sends them', async () => {
    const steps: Step[] = [
      { send: call(1, 'query', 'whoami') },
      { send: call(2, 'subscription', 'numbers', { upTo: 4 }) },
      { until: count(2, 1, 'stopped'), what: 'numbers stopped' },
      { send: call(3, 'subscription', 'failing') },
      { until: (tr) => count(3, 1, 'stopped')(tr) || tr.messages.some((m) => m.includes('gave up after one')), what: 'failing ended' },
      { send: call(4, 'subscription', 'ticks') },
      { until: count(4, 1, 'stopped'), what: 'ticks stopped' },
      { send: call(5, 'subscription', 'forever') },
      { until: count(5, 1, 'data'), what: 'forever waiting' },
      { send: { id: 5, method: 'subscription.stop' } },
      { until: count(5, 1, 'stopped'), what: 'forever stopped' },
      { send: call(6, 'subscription', 'numbers', { upTo: -1 }) },
      { until: (tr) => tr.messages.some((m) => m.includes('"id":6') && m.includes('"error"')), what: 'bad input refused' },
      { until: count(1, 1), what: 'whoami answered' },
    ];
    const transcripts = {} as Record<Implementation, Record<string, string[]>>;
    for (const implementation of ['stock', 'ours'] as const) {
      const endpoint = await startEndpoint(implementation);
      try {
        transcripts[implementation] = byRequest(await runSession(endpoint, noSql, '', steps));
      } finally {
        await endpoint.close();
      }
    }
    // Stack traces differ by file (tRPC's default formatter sends them outside production).
    const withoutStacks = (groups: Record<string, string[]>) =>
      Object.fromEntries(
        Object.entries(groups).map(([id, messages]) => [
          id,
          messages.map((m) => {
            if (!m.startsWith('{')) return m;
            const message = JSON.parse(m) as { error?: { data?: { stack?: unknown } } };
            if (message.error?.data?.stack !== undefined) message.error.data.stack = '<stack>';
            return JSON.stringify(message);
          }),
        ]),
      );
    expect(withoutStacks(transcripts.ours)).toEqual(withoutStacks(transcripts.stock));
    expect(transcripts.ours['2']!.filter((m) => m.includes('"data"'))).toHaveLength(4);
  });
});
