import { randomBytes } from 'node:crypto';
import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  splitLink,
  wsLink,
  type TRPCClient,
} from '@trpc/client';
import postgres from 'postgres';
import { inject, test as base } from 'vitest';
import WebSocket from 'ws';
import { startApp, type App } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import type { AppRouter } from '../../server/routers/app.ts';
import type { OrderEvent } from '../../shared/orders.ts';

export type Client = TRPCClient<AppRouter>;

export type TestServer = {
  app: App;
  /** http://127.0.0.1:port */
  url: string;
  /** A direct connection to this server's database, for raw-SQL writes and checks. */
  sql: postgres.Sql;
  /** A typed client: subscriptions over WebSocket, the rest over batched HTTP. */
  client(): Client;
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

export async function startTestServer(): Promise<TestServer & { close(): Promise<void> }> {
  const database = await createTestDatabase();
  const config = loadConfig({ DATABASE_URL: database.url, PORT: '0', HOST: '127.0.0.1' });
  const app = await startApp(config, createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));
  const sql = postgres(database.url, { max: 4, onnotice: () => {} });
  const sockets = new Map<Client, ReturnType<typeof createWSClient>>();
  const reader = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${app.url}/trpc` })] });

  const server: TestServer = {
    app,
    url: app.url,
    sql,
    client() {
      const wsClient = createWSClient({
        url: `${app.url.replace('http', 'ws')}/trpc`,
        WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
        retryDelayMs: () => 50,
      });
      const trpc = createTRPCClient<AppRouter>({
        links: [
          splitLink({
            condition: (op) => op.type === 'subscription',
            true: wsLink({ client: wsClient }),
            false: httpBatchLink({ url: `${app.url}/trpc` }),
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
      await database.drop();
    },
  };
}

/** `test` with a `server` fixture: one real server and database per test file. */
export const test = base.extend<{ server: TestServer }>({
  server: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const server = await startTestServer();
      await use(server);
      await server.close();
    },
    { scope: 'file' },
  ],
});
