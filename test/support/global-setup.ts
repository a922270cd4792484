import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../server/db/embedded.ts';
import { createLogger } from '../../server/logger.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server for the tests; each file creates its own database in it. */
    adminDatabaseUrl: string;
    /** Servers reach their database through PgBouncer in transaction mode (the `pgbouncer` project). */
    viaPgBouncer?: boolean;
    /** Servers run with this EVENT_ORDERING (the `sequenced` projects); unset: the default. */
    eventOrdering?: 'commit' | 'sequenced';
  }
}

/**
 * Real PostgreSQL for every integration test: DATABASE_URL when given (any PostgreSQL 14+),
 * else an embedded one in a temporary directory. Durability is off: a crash of the test
 * cluster loses nothing we keep.
 */
export default async function setup(project: TestProject) {
  if (process.env.DATABASE_URL) {
    project.provide('adminDatabaseUrl', process.env.DATABASE_URL);
    return;
  }
  // Readable by the `postgres` system user the package runs the server as when we are root.
  const dir = await mkdtemp(path.join(tmpdir(), 'live-orders-test-'));
  const { chmod } = await import('node:fs/promises');
  await chmod(dir, 0o755);
  const pg = await startEmbeddedPostgres(dir, createLogger('warn'), [
    '-c', 'fsync=off',
    '-c', 'synchronous_commit=off',
    '-c', 'full_page_writes=off',
    '-c', 'max_connections=300',
  ]);
  project.provide('adminDatabaseUrl', pg.url);
  return async () => {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
