import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';

/** How long a query waits for a connection before the database counts as unavailable. */
const CONNECT_TIMEOUT_SECONDS = 3;

export function createDatabase(url: string) {
  const sql = postgres(url, {
    max: 10,
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    onnotice: () => {},
  });
  const db = drizzle(sql, { schema });
  return { sql, db };
}

export type Database = ReturnType<typeof createDatabase>['db'];
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
/** What a query function runs on: the pool, or a transaction. */
export type Executor = Database | Transaction;
