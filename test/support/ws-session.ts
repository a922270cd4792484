import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import WebSocket, { WebSocketServer } from 'ws';
import type { Config } from '../../server/config.ts';
import { createCredentials } from '../../server/auth/credentials.ts';
import { createAuthenticator } from '../../server/auth/principal.ts';
import { createRateLimiter } from '../../server/auth/rate-limit.ts';
import type { App } from '../../server/app.ts';
import { createClientAddressOf } from '../../server/client-address.ts';
import { createDatabase } from '../../server/db/client.ts';
import { batchCreates } from '../../server/db/create-batcher.ts';
import { createLogger } from '../../server/logger.ts';
import { Metrics } from '../../server/metrics.ts';
import { createRequestIdentity } from '../../server/request-identity.ts';
import { appRouter } from '../../server/routers/app.ts';
import { createContextFactory } from '../../server/trpc/context.ts';
import { createWebSocketTransport } from '../../server/ws/transport.ts';

export type Implementation = 'stock' | 'ours';

/** A WebSocket endpoint serving our router, by tRPC's own adapter or by our transport. */
export type Endpoint = { url: string; shutdown(): void; close(): Promise<void> };

/**
 * Serves `appRouter` over WebSocket on a port of its own, with the services of `app` (its hub
 * and database) and a fresh authenticator and rate limiter from `config`, by `implementation`:
 * tRPC's stock `applyWSSHandler` (here, in tests only) or our transport. Shutdown does what
 * the server does on SIGTERM: the reconnect notification, then close 1012.
 */
export async function startEndpoint(
  implementation: Implementation,
  app: App,
  config: Config,
  keepAlive = { pingMs: 30_000, pongWaitMs: 5_000 },
): Promise<Endpoint> {
  const database = createDatabase(app.databaseUrl);
  const metrics = new Metrics();
  const context = createContextFactory({
    db: database.db,
    creates: batchCreates(database.db),
    hub: app.hub,
    log: createLogger('silent'),
    auth: createCredentials({ tokens: createAuthenticator(config.tokens), jwt: undefined, sessions: undefined, allowedOrigins: undefined, metrics }),
    writeLimiter: createRateLimiter(config.writeRateLimit),
    metrics,
  }, createRequestIdentity(createClientAddressOf(config.trustProxy)));
  const server: Server = createServer((_, res) => res.writeHead(404).end());
  let shutdown: () => void;
  let stop: () => void;
  if (implementation === 'stock') {
    const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxBodyBytes });
    const handler = applyWSSHandler({ wss, router: appRouter, createContext: context, keepAlive: { enabled: true, ...keepAlive } });
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
    shutdown = () => {
      handler.broadcastReconnectNotification();
      for (const ws of wss.clients) ws.close(1012, 'server restarting');
    };
    stop = () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    };
  } else {
    const transport = createWebSocketTransport({ router: appRouter, createContext: context, maxPayload: config.maxBodyBytes, keepAlive });
    server.on('upgrade', (req, socket, head) => transport.handleUpgrade(req, socket, head));
    shutdown = () => {
      transport.broadcastReconnectNotification();
      transport.closeAll(1012, 'server restarting');
    };
    stop = () => {
      transport.terminateAll();
      transport.stop();
    };
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/trpc`,
    shutdown: () => shutdown(),
    async close() {
      stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await database.sql.end();
    },
  };
}

/** What a client received: each message as text, and how the connection closed. */
export type Transcript = { messages: string[]; closed?: { code: number; reason: string } };

export type Sql = (query: string) => Promise<Array<Record<string, unknown>>>;

export type SessionContext = {
  transcript: Transcript;
  /** Runs SQL on the endpoint's database (writes that make events, reads of positions). */
  sql: Sql;
  /** Values a step keeps for a later one. */
  vars: Record<string, string>;
};

/** One step of a scripted session. */
export type Step =
  /** An object is sent as JSON, a string as it is, a Buffer as a binary frame. */
  | { send: unknown }
  /** Sends what `compose` makes from what the session has seen so far. */
  | { compose: (ctx: SessionContext) => unknown }
  /** Waits, with a deadline, until the transcript satisfies `until`. */
  | { until: (t: Transcript, vars: Record<string, string>) => boolean; what: string }
  | { sql: string }
  | { run: (ctx: SessionContext) => Promise<void> }
  /** Writes an order every few milliseconds until `stopWriting`. */
  | { startWriting: true }
  | { stopWriting: true }
  | { shutdown: true };

/** Connects to `endpoint` (with `query` appended to its URL) and runs `steps`. */
export async function runSession(
  endpoint: Endpoint,
  sql: Sql,
  query: string,
  steps: Step[],
  deadlineMs = 15_000,
): Promise<Transcript> {
  const transcript: Transcript = { messages: [] };
  const ws = new WebSocket(endpoint.url + query);
  ws.on('message', (data) => transcript.messages.push(String(data)));
  ws.on('close', (code, reason) => (transcript.closed = { code, reason: String(reason) }));
  ws.on('error', () => {});
  await once(ws, 'open');
  const ctx: SessionContext = { transcript, sql, vars: {} };
  let writing: Promise<void> | undefined;
  let keepWriting = false;
  try {
    for (const step of steps) {
      if ('send' in step || 'compose' in step) {
        const value = 'send' in step ? step.send : step.compose(ctx);
        ws.send(typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value));
      } else if ('until' in step) {
        const deadline = Date.now() + deadlineMs;
        while (!step.until(transcript, ctx.vars)) {
          if (Date.now() > deadline) {
            throw new Error(`session: "${step.what}" not reached within ${deadlineMs} ms; received:\n${transcript.messages.join('\n')}`);
          }
          await new Promise((r) => setTimeout(r, 5));
        }
      } else if ('sql' in step) {
        await sql(step.sql);
      } else if ('run' in step) {
        await step.run(ctx);
      } else if ('startWriting' in step) {
        keepWriting = true;
        writing = (async () => {
          while (keepWriting) {
            await sql(`insert into orders (customer_name, product_name) values ('Flow', 'ing')`);
            await new Promise((r) => setTimeout(r, 3));
          }
        })();
      } else if ('stopWriting' in step) {
        keepWriting = false;
        await writing;
      } else if ('shutdown' in step) {
        endpoint.shutdown();
        const deadline = Date.now() + deadlineMs;
        while (!transcript.closed) {
          if (Date.now() > deadline) throw new Error('session: the server did not close the connection');
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    }
  } finally {
    keepWriting = false;
    await writing;
    if (!transcript.closed) ws.terminate();
  }
  return transcript;
}

/** Messages with this request id (JSON-compared), in arrival order. */
export function messagesFor(t: Transcript, id: unknown): Array<Record<string, unknown>> {
  const key = JSON.stringify(id);
  return t.messages
    .filter((m) => m.startsWith('{') || m.startsWith('['))
    .map((m) => JSON.parse(m) as Record<string, unknown>)
    .filter((m) => JSON.stringify(m.id) === key);
}

export const count = (id: unknown, n: number, type?: string) => (t: Transcript) =>
  messagesFor(t, id).filter((m) => type === undefined || (m.result as { type?: string } | undefined)?.type === type).length >= n;

const ISO_TIME = /^\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
// A tracked id's digest covers the event's time, so it differs between runs too.
const RESUME_ID_DIGEST = /^(\d+)\.[0-9a-f]{16}$/;

/**
 * A message as compared: parsed and written again (so PostgreSQL's spacing inside the event
 * JSON does not count; key order does), with times, and the digests of tracked ids, replaced,
 * which differ between runs.
 */
export function normalize(message: string): string {
  if (!message.startsWith('{') && !message.startsWith('[')) return message;
  return JSON.stringify(JSON.parse(message), (_, value) =>
    typeof value !== 'string' ? value : ISO_TIME.test(value) ? '<time>' : value.replace(RESUME_ID_DIGEST, '$1.<digest>'),
  );
}

/**
 * The transcript, grouped by request id, each group in arrival order. Replies to different
 * requests may interleave differently from run to run (they wait on the database); those to
 * one request may not. `collapseData` turns each run of data messages into one marker, for
 * sessions whose number of events per run depends on timing (checked separately).
 */
export function byRequest(t: Transcript, collapseData = false): Record<string, string[]> {
  const groups: Record<string, string[]> = {};
  for (const raw of t.messages) {
    const text = normalize(raw);
    const key = text.startsWith('{') ? JSON.stringify((JSON.parse(text) as { id?: unknown }).id ?? null) : text;
    const group = (groups[key] ??= []);
    const isData = text.includes('"type":"data"') && text.includes('"result"');
    if (collapseData && isData) {
      if (group.at(-1) !== '<data...>') group.push('<data...>');
    } else {
      group.push(text);
    }
  }
  if (t.closed) groups['<closed>'] = [`${t.closed.code} ${t.closed.reason}`];
  return groups;
}
