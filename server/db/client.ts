import type { SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import { PgDialect } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import { reconnectBackoffSeconds } from '../retry.ts';
import * as schema from './schema.ts';

/** How long a query waits for a connection before the database counts as unavailable. */
const CONNECT_TIMEOUT_SECONDS = 3;

/**
 * The pool every query goes through. `pooled`: `url` may be a transaction-mode pooler
 * (PgBouncer, Supavisor, RDS Proxy), which hands each transaction to whichever server
 * connection is free. A statement prepared on one is then executed on another that never saw
 * it, or under another's name: transactions fail, or are reported committed and never were.
 * So no named prepared statements there (unnamed ones live within one round trip), and no
 * pipelining (below). Nothing
 * else we send through the pool outlives a transaction: settings are `set_config(…, true)`,
 * locks `pg_advisory_xact_lock`; the session-level pieces (the migration lock, LISTEN) use
 * the direct URL.
 */
export function createDatabase(url: string, { pooled = false }: { pooled?: boolean } = {}) {
  const sql = postgres(url, {
    max: 10,
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    backoff: reconnectBackoffSeconds,
    prepare: !pooled,
    // postgres.js pipelines a query with no parameters behind a busy one on the same
    // connection; a transaction-mode pooler may hand the busy one's server connection back
    // between the two, and the pipelined bytes are never answered: the connection hangs.
    ...(pooled ? { max_pipeline: 0 } : {}),
    onnotice: () => {},
  });
  const db = drizzle(sql, { schema });
  return { sql, db };
}

export type Database = ReturnType<typeof createDatabase>['db'];
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
/** What a query function runs on: the pool, or a transaction. */
export type Executor = Database | Transaction;

const dialect = new PgDialect();

/**
 * Runs `query` as a named prepared statement where the pool prepares (a direct connection;
 * through a pooler the pool's `prepare: false` wins and it goes unnamed, as always), and
 * returns its rows as the driver gives them. drizzle sends every statement unnamed, so
 * PostgreSQL parses and plans it anew each time: for the log reads that follow every commit
 * (the listener's, a replay's pages) that is a kilobyte and a half of SQL per read.
 * On the pool only: a transaction's connection is drizzle's to manage.
 */
export async function executePrepared<T extends postgres.Row>(db: Executor, query: SQL): Promise<readonly T[]> {
  let rows: readonly postgres.Row[];
  if ('$client' in db) {
    const { sql: text, params } = dialect.sqlToQuery(query);
    rows = await db.$client.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true });
  } else {
    rows = await db.execute(query);
  }
  // The rows' shape is the caller's word for its own SELECT, as with drizzle's execute<T>.
  return rows as readonly T[];
}
