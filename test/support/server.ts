import { randomBytes } from 'node:crypto';
import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  httpSubscriptionLink,
  splitLink,
  wsLink,
  type TRPCClient,
} from '@trpc/client';
import { EventSource } from 'eventsource';
import postgres from 'postgres';
import { inject, test as base } from 'vitest';
import { startAppWithDrills, type App, type Drills } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger, type Logger } from '../../server/logger.ts';
import { startPgBouncer } from './pgbouncer.ts';
import type { AppRouter } from '../../server/routers/app.ts';
import type { OrderEvent } from '../../shared/orders.ts';
import { authorizationHeader } from '../../shared/protocol.ts';
import { NodeWebSocket } from './node-web-socket.ts';

export type Client = TRPCClient<AppRouter>;

export type TestServer = {
  app: App;
  /** What tests do to the server's connections besides (cut them, read their buffers). */
  drills: Drills;
  /** http://127.0.0.1:port */
  url: string;
  /** A direct connection to this server's database, for raw-SQL writes and checks. */
  sql: postgres.Sql;
  /**
   * A typed client: subscriptions over WebSocket, the rest over batched HTTP (or everything
   * over WebSocket with `allOverWebSocket`), or subscriptions as Server-Sent Events with
   * `transport: 'sse'`. `token` goes where a real client sends it.
   */
  client(opts?: { token?: string; allOverWebSocket?: boolean; transport?: 'websocket' | 'sse' }): Client;
  /** Closes a client's WebSocket for good (it does not reconnect). */
  disconnect(client: Client): Promise<void>;
  /** Every event in the log after `after`, read through events.list. */
  logAfter(after: string): Promise<OrderEvent[]>;
};

/** A database of its own for one test file, made in the shared test cluster. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/** A new database made from `url`'s as it is now (nothing may be connected to it): a backup to restore. */
export async function copyDatabase(url: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = postgres(inject('adminDatabaseUrl'), { max: 1, onnotice: () => {} });
  const name = `test_${randomBytes(6).toString('hex')}`;
  await admin.unsafe(`create database ${name} template ${new URL(url).pathname.slice(1)}`);
  const copy = new URL(url);
  copy.pathname = `/${name}`;
  return {
    url: copy.toString(),
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/**
 * A server of its own on a database of its own; `env` adds configuration (tokens, limits).
 * In the `pgbouncer` project (vitest.config.ts) the server reaches its database through a
 * PgBouncer of its own in transaction mode, and directly only for migrations and LISTEN; in
 * the `sequenced` projects it runs with EVENT_ORDERING=sequenced.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  /** where the server logs (default: nowhere, or TEST_LOG_LEVEL to stdout) */
  log: Logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
): Promise<TestServer & { close(): Promise<void> }> {
  const database = await createTestDatabase();
  const pooler = inject('viaPgBouncer') ? await startPgBouncer(database.url) : undefined;
  const databaseEnv = pooler
    ? { DATABASE_URL: pooler.via(database.url), DIRECT_DATABASE_URL: database.url }
    : { DATABASE_URL: database.url };
  const ordering = inject('eventOrdering');
  const config = loadConfig({ ...databaseEnv, PORT: '0', HOST: '127.0.0.1', ...(ordering ? { EVENT_ORDERING: ordering } : {}), ...env });
  const { app, drills } = await startAppWithDrills(config, log);
  const sql = postgres(database.url, { max: 4, onnotice: () => {} });
  const sockets = new Map<Client, ReturnType<typeof createWSClient>>();
  // Reads the log with the first writer token, if there are tokens.
  const adminToken = config.tokens.find((t) => t.role === 'writer')?.secret;
  const reader = createTRPCClient<AppRouter>({
    links: [httpBatchLink({ url: `${app.url}/trpc`, headers: authorizationHeader(adminToken) })],
  });

  const server: TestServer = {
    app,
    drills,
    url: app.url,
    sql,
    client({ token, allOverWebSocket = false, transport = 'websocket' } = {}) {
      const headers = authorizationHeader(token);
      if (transport === 'sse') {
        return createTRPCClient<AppRouter>({
          links: [
            splitLink({
              condition: (op) => op.type === 'subscription',
              // Node 20 has no EventSource; this one takes a fetch, which carries the header.
              true: httpSubscriptionLink({
                url: `${app.url}/trpc`,
                EventSource,
                eventSourceOptions: () => ({
                  fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...headers } }),
                }),
              }),
              false: httpBatchLink({ url: `${app.url}/trpc`, headers }),
            }),
          ],
        });
      }
      const wsClient = createWSClient({
        url: `${app.url.replace('http', 'ws')}/trpc`,
        WebSocket: NodeWebSocket,
        retryDelayMs: () => 50,
        connectionParams: token === undefined ? undefined : { token },
      });
      const trpc = createTRPCClient<AppRouter>({
        links: [
          splitLink({
            condition: (op) => allOverWebSocket || op.type === 'subscription',
            true: wsLink({ client: wsClient }),
            false: httpBatchLink({ url: `${app.url}/trpc`, headers }),
          }),
        ],
      });
      sockets.set(trpc, wsClient);
      return trpc;
    },
    async disconnect(client) {
      await sockets.get(client)?.close();
      sockets.delete(client);
    },
    async logAfter(after) {
      const events: OrderEvent[] = [];
      for (let cursor = after; ; ) {
        const page = await reader.events.list.query({ after: cursor, limit: 1000 });
        events.push(...page.events);
        if (page.events.length < 1000) break;
        cursor = page.lastEventId;
      }
      return events;
    },
  };

  return {
    ...server,
    async close() {
      await Promise.all([...sockets.values()].map((ws) => ws.close()));
      await sql.end();
      await app.close();
      await pooler?.stop();
      await database.drop();
    },
  };
}

/** `test` with a `server` fixture: one real server and database per test file, configured by `env`. */
export function testWithServer(env: Record<string, string> = {}) {
  return base.extend<{ server: TestServer }>({
    server: [
      // eslint-disable-next-line no-empty-pattern
      async ({}, use) => {
        const server = await startTestServer(env);
        await use(server);
        await server.close();
      },
      { scope: 'file' },
    ],
  });
}

export const test = testWithServer();
