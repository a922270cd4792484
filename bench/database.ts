import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { startEmbeddedPostgres } from '../server/db/embedded.ts';
import { createLogger } from '../server/logger.ts';

export type BenchDatabase = {
  /** URL of the cluster's default database, for creating the others */
  adminUrl: string;
  postmasterPid: number | undefined;
  version: string;
  /** A fresh, empty database; the server migrates it when it starts on it. */
  create(name: string): Promise<string>;
  stop(): Promise<void>;
};

/** The postmaster's pid, from the first line of postmaster.pid in the cluster directory. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Last resort when a normal stop failed: a fast shutdown of a cluster we started. */
export function killCluster(dataDir: string): void {
  const pid = postmasterPid(dataDir);
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    // already gone
  }
}

/**
 * An embedded PostgreSQL in a temporary directory, with PostgreSQL's default durability
 * (fsync on): the write figures include real commits. Every scenario gets a database of its
 * own in it, so one scenario's log never slows another's reads.
 */
export async function startBenchDatabase(onStarted: (dir: string) => void): Promise<BenchDatabase> {
  const dir = await mkdtemp(path.join(tmpdir(), 'live-orders-bench-'));
  // As root, the package runs postgres as the `postgres` user, which must be able to enter it.
  await chmod(dir, 0o755);
  onStarted(dir);
  const pg = await startEmbeddedPostgres(dir, createLogger('warn'), ['-c', 'max_connections=200']);
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  const [row] = await admin<{ server_version: string }[]>`show server_version`;
  return {
    adminUrl: pg.url,
    postmasterPid: postmasterPid(dir),
    version: row?.server_version ?? 'unknown',
    async create(name) {
      await admin.unsafe(`create database ${name}`);
      const url = new URL(pg.url);
      url.pathname = `/${name}`;
      return url.toString();
    },
    async stop() {
      await admin.end({ timeout: 1 }).catch(() => {});
      await pg.stop().catch(() => killCluster(dir));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
