/**
 * Histories that diverge: the database fails over to an asynchronous replica that lacked the
 * last events, or is restored from an older copy, and new writes take the lost positions
 * again. Every client, raw tRPC or the client library, over WebSocket or SSE, must end equal
 * to the table: a client whose last event is gone is told (PRECONDITION_FAILED) and resyncs;
 * one whose last event survived resumes with no gap. Real PostgreSQL 15 from Debian
 * (`apt-get install -y postgresql`: pg_basebackup, streaming replication), one server that
 * stays up through it all.
 */
import { createTRPCClient, createWSClient, httpBatchLink, httpSubscriptionLink, splitLink, wsLink } from '@trpc/client';
import { EventSource } from 'eventsource';
import type postgres from 'postgres';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { startApp, type App } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { createLogger } from '../server/logger.ts';
import type { AppRouter } from '../server/routers/app.ts';
import {
  allAt,
  expectCopiesEqualTable,
  expectExactlyTheLogAfter,
  head,
  libraryCopy,
  RawCopy,
  startWriters,
} from './support/failover-clients.ts';
import { debianPostgresInstalled, PostgresInstance, removeAll, TRUST_LOOPBACK } from './support/postgres-instance.ts';
import type { Client } from './support/server.ts';
import { NodeWebSocket } from './support/node-web-socket.ts';

if (!debianPostgresInstalled()) throw new Error("this test needs Debian's PostgreSQL 15 (pg_basebackup): apt-get install -y postgresql");

/** The role the server connects as: refused for a moment while the new history is written. */
const APP_ROLE = 'app';
const DIVERGED = /no longer in the log as you saw it/;
/** More than PostgreSQL's 32 sequence values logged ahead, so new writes must reuse lost positions. */
const LOST_EVENTS = 80n;

function clientOf(url: string, transport: 'websocket' | 'sse'): Client {
  const http = httpBatchLink({ url: `${url}/trpc` });
  const subscriptions =
    transport === 'sse'
      ? httpSubscriptionLink({ url: `${url}/trpc`, EventSource })
      : wsLink({
          client: createWSClient({
            url: `${url.replace('http', 'ws')}/trpc`,
            WebSocket: NodeWebSocket,
            retryDelayMs: () => 100,
          }),
        });
  return createTRPCClient<AppRouter>({ links: [splitLink({ condition: (op) => op.type === 'subscription', true: subscriptions, false: http })] });
}

const instances: PostgresInstance[] = [];
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => {});
  await removeAll(instances.splice(0));
});

async function createAppDatabase(primary: PostgresInstance): Promise<void> {
  const sql = primary.sql();
  await sql.unsafe(`create role ${APP_ROLE} login superuser`);
  await sql.unsafe(`create database ${APP_ROLE} owner ${APP_ROLE}`);
  await sql.end();
}

async function startServer(databaseUrl: string): Promise<App> {
  const app = await startApp(
    loadConfig({ DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1' }),
    createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
  );
  closers.push(() => app.close());
  return app;
}

/** Every kind of client, all connected to `url`, each with its snapshot in. */
async function startClients(url: string) {
  const raw = [new RawCopy('raw over websocket', clientOf(url, 'websocket')), new RawCopy('raw over sse', clientOf(url, 'sse'))];
  // Away while the history changes: they stop before the events that will be lost, and
  // resume from their last tracked id afterwards.
  const away = [new RawCopy('away, over websocket', clientOf(url, 'websocket')), new RawCopy('away, over sse', clientOf(url, 'sse'))];
  const library = [libraryCopy(url, 'websocket'), libraryCopy(url, 'sse')];
  closers.push(async () => {
    for (const c of [...raw, ...away]) c.stop();
    await Promise.all(library.map((l) => l.live.close()));
  });
  await Promise.all([...raw, ...away].map((c) => c.load()));
  await Promise.all(library.map((l) => l.live.ready));
  return { raw, away, library, connected: [...raw, ...library], all: [...raw, ...away, ...library] };
}

type Clients = Awaited<ReturnType<typeof startClients>>;

/** Lets the writers run until the log has grown by `events` past `from` (read with `sql`). */
async function writeUntil(sql: postgres.Sql, from: bigint, events: bigint): Promise<bigint> {
  let now = from;
  await vi.waitFor(
    async () => {
      now = await head(sql);
      expect(now - from).toBeGreaterThanOrEqual(events);
    },
    { timeout: 30_000, interval: 50 },
  );
  return now;
}

/**
 * The lost positions taken again, before the server can look: the new history is written
 * while the server's role is refused, then let in. Returns the new head.
 */
async function rewriteHistory(instance: PostgresInstance, sql: postgres.Sql, lostUpTo: bigint): Promise<bigint> {
  const [{ kept }] = await sql<[{ kept: string }]>`select coalesce(max(id), 0)::text as kept from order_events`;
  await sql`insert into orders (customer_name, product_name)
            select 'new history ' || i, 'p' from generate_series(1, ${Number(lostUpTo - BigInt(kept)) + 20}) i`;
  await sql`update orders set status = 'cancelled' where id in (select id from orders order by id limit 3)`;
  const newHead = await head(sql);
  expect(newHead).toBeGreaterThan(lostUpTo);
  // New events hold positions the clients saw for events that are gone.
  const [{ reused }] = await sql<[{ reused: number }]>`
    select count(*)::int as reused from order_events where id > ${kept}::bigint and id <= ${lostUpTo.toString()}::bigint`;
  expect(reused).toBeGreaterThan(0);
  instance.setHba(TRUST_LOOPBACK);
  await sql`select pg_reload_conf()`;
  return newHead;
}

/** What must hold at the end, for every client. */
async function expectEveryCopyRight(sql: postgres.Sql, app: App, clients: Clients, resumedFrom: string[], writers: ReturnType<typeof startWriters>) {
  // The writers go on through the server once it is back: it survived the switch.
  await writeUntil(sql, await head(sql), 20n);
  await writers.stop();
  const end = await head(sql);
  await allAt(clients.all, end);
  await expectCopiesEqualTable(sql, clients.all);

  // Those whose last event was lost were told, and resynced.
  for (const c of clients.raw) expect(c.resyncs.some((r) => DIVERGED.test(r)), `${c.name}: ${c.resyncs.join('; ')}`).toBe(true);
  for (const l of clients.library) expect(l.resyncs.some((r) => DIVERGED.test(r.reason)), `${l.name}: ${JSON.stringify(l.resyncs)}`).toBe(true);
  // Those whose last event survived resumed from it, with no gap and no resync.
  for (const [i, c] of clients.away.entries()) {
    expect(c.resyncs, c.name).toEqual([]);
    await expectExactlyTheLogAfter(sql, c, resumedFrom[i]!);
  }
  for (const c of [...clients.raw, ...clients.away]) expect(c.problems, c.name).toEqual([]);

  const health = await fetch(`${app.url}/healthz`);
  expect(health.status).toBe(200);
  expect(app.listener.state).toBe('listening');
}

describe('histories that diverge', () => {
  test('failover to an asynchronous replica that lacked the last events: no client silently diverges', async () => {
    const primary = await PostgresInstance.create();
    instances.push(primary);
    await primary.start();
    await createAppDatabase(primary);
    const replica = await PostgresInstance.replicaOf(primary);
    instances.push(replica);
    await replica.start();

    // The server knows both; postgres.js connects to whichever is the primary. (`primary`,
    // not `read-write`: postgres.js judges read-write by default_transaction_read_only,
    // which a hot standby leaves off.)
    const app = await startServer(
      `postgres://${APP_ROLE}@127.0.0.1:${primary.port},127.0.0.1:${replica.port}/${APP_ROLE}?target_session_attrs=primary`,
    );
    const onPrimary = primary.sql(APP_ROLE);
    const onReplica = replica.sql(APP_ROLE);
    closers.push(() => onPrimary.end(), () => onReplica.end());

    const writers = startWriters(clientOf(app.url, 'sse'), 2);
    closers.push(() => writers.stop());
    const clients = await startClients(app.url);
    await allAt(clients.all, await writeUntil(onPrimary, await head(onPrimary), 30n));

    // The away clients leave, at an event the replica will have.
    for (const c of clients.away) c.stop();
    const resumedFrom = clients.away.map((c) => c.lastId!);
    const [{ lsn }] = await onPrimary<[{ lsn: string }]>`select pg_current_wal_lsn()::text as lsn`;
    await vi.waitFor(
      async () => {
        const [{ caughtUp }] = await onReplica<[{ caughtUp: boolean }]>`select pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn as "caughtUp"`;
        expect(caughtUp).toBe(true);
      },
      { timeout: 15_000, interval: 50 },
    );

    // The replica stops receiving: what the primary commits from now on, it never gets.
    replica.setHba([`host all ${APP_ROLE} 127.0.0.1/32 reject`, ...TRUST_LOOPBACK]);
    await onReplica`alter system set primary_conninfo = ''`;
    await onReplica`select pg_reload_conf()`;
    await vi.waitFor(async () => expect((await onReplica`select 1 from pg_stat_wal_receiver`).length).toBe(0), { timeout: 15_000, interval: 50 });
    const replicated = await head(onReplica);

    // Events the connected clients see, and the replica lacks.
    const lostUpTo = await writeUntil(onPrimary, replicated, LOST_EVENTS);
    writers.pause();
    const seen = await head(onPrimary);
    await allAt(clients.connected, seen);

    // The primary dies; the replica is promoted and takes writes at once, at the lost
    // positions, before the server (refused for the moment) can see it.
    await primary.stop('immediate');
    await replica.promote();
    expect(await head(onReplica)).toBe(replicated);
    expect(seen).toBeGreaterThanOrEqual(lostUpTo);
    await rewriteHistory(replica, onReplica, seen);
    writers.resume();

    // The connected clients are told and resync by themselves; the away ones come back.
    await vi.waitFor(() => {
      for (const c of clients.connected) expect(c.resyncs.length, c.name).toBeGreaterThan(0);
    }, { timeout: 30_000, interval: 50 });
    resumedFrom.forEach((from, i) => clients.away[i]!.resume(from));

    await expectEveryCopyRight(onReplica, app, clients, resumedFrom, writers);
  }, 120_000);

  test('a restore from an older cold copy of the data directory under running clients', async () => {
    const db = await PostgresInstance.create();
    instances.push(db);
    await db.start();
    await createAppDatabase(db);
    const app = await startServer(db.url(APP_ROLE, APP_ROLE));
    const sql = db.sql(APP_ROLE);
    closers.push(() => sql.end());

    const writers = startWriters(clientOf(app.url, 'sse'), 2);
    closers.push(() => writers.stop());
    const clients = await startClients(app.url);
    await allAt(clients.all, await writeUntil(sql, await head(sql), 30n));

    // The away clients leave; then the backup: a cold copy of the data directory.
    for (const c of clients.away) c.stop();
    const resumedFrom = clients.away.map((c) => c.lastId!);
    writers.pause();
    await db.stop('fast');
    const backup = await db.coldCopy();
    await db.start();
    writers.resume();

    // Events the connected clients see, and the backup lacks.
    const inBackup = await head(sql);
    await writeUntil(sql, inBackup, LOST_EVENTS);
    writers.pause();
    const seen = await head(sql);
    await allAt(clients.connected, seen);

    // Restored: the log is the backup's, and new writes take the lost positions before the
    // server can look.
    await db.stop('immediate');
    await db.restore(backup);
    db.setHba([`host all ${APP_ROLE} 127.0.0.1/32 reject`, ...TRUST_LOOPBACK]);
    await db.start();
    expect(await head(sql)).toBe(inBackup);
    await rewriteHistory(db, sql, seen);
    writers.resume();

    await vi.waitFor(() => {
      for (const c of clients.connected) expect(c.resyncs.length, c.name).toBeGreaterThan(0);
    }, { timeout: 30_000, interval: 50 });
    resumedFrom.forEach((from, i) => clients.away[i]!.resume(from));

    await expectEveryCopyRight(sql, app, clients, resumedFrom, writers);
  }, 120_000);
});
