import { execFile } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';

/**
 * A PostgreSQL server of its own from Debian's `postgresql` package (15: it has
 * `pg_basebackup`, which the embedded npm build lacks), in a temporary directory on a free
 * loopback port: for tests of replication, failover and restores. PostgreSQL refuses to run
 * as root, so as root every command runs as the `postgres` system user the package creates.
 */
export const PG_BIN = '/usr/lib/postgresql/15/bin';

const run = promisify(execFile);
const asRoot = process.getuid?.() === 0;

/** Whether the Debian binaries are here (`apt-get install -y postgresql`). */
export const debianPostgresInstalled = () => existsSync(join(PG_BIN, 'pg_basebackup'));

async function pg(tool: string, args: string[]): Promise<string> {
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, tool), ...args]] : [join(PG_BIN, tool), args];
  try {
    return (await run(file, argv, { timeout: 60_000 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${tool} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A directory the `postgres` user owns (as root), removed by `removeAll`. */
function ownedTempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'live-orders-pg-'));
  if (asRoot) {
    const [uid, gid] = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('postgres:'))!
      .split(':')
      .slice(2, 4)
      .map(Number);
    chownSync(dir, uid!, gid!);
  }
  return dir;
}

const made: string[] = [];

export class PostgresInstance {
  private constructor(
    /** the directory holding `data/` and the server's socket */
    readonly dir: string,
    readonly port: number,
  ) {}

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** postgres://user@127.0.0.1:port/database */
  url(user = 'postgres', database = 'postgres'): string {
    return `postgres://${user}@127.0.0.1:${this.port}/${database}`;
  }

  /** A new cluster, set up to be a streaming-replication primary; not started. */
  static async create(): Promise<PostgresInstance> {
    const instance = new PostgresInstance(ownedTempDir(), await freePort());
    made.push(instance.dir);
    await pg('initdb', ['-D', instance.dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
    appendFileSync(
      join(instance.dataDir, 'postgresql.conf'),
      [
        `port = ${instance.port}`,
        `listen_addresses = '127.0.0.1'`,
        `unix_socket_directories = '${instance.dir}'`,
        'wal_level = replica',
        'max_wal_senders = 4',
        'hot_standby = on',
        // Durability against a crash of the machine is not what these tests are about; a
        // killed server still recovers from its WAL.
        'fsync = off',
        'max_connections = 60',
        'shared_buffers = 32MB',
        '',
      ].join('\n'),
    );
    return instance;
  }

  /** A streaming replica of `primary` (running), from `pg_basebackup`; not started. */
  static async replicaOf(primary: PostgresInstance): Promise<PostgresInstance> {
    const instance = new PostgresInstance(ownedTempDir(), await freePort());
    made.push(instance.dir);
    await pg('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', instance.dataDir, '-R', '-X', 'stream', '-c', 'fast']);
    instance.#setPort();
    return instance;
  }

  /** A cold copy of this (stopped) instance's data directory: a backup to restore later. */
  async coldCopy(): Promise<string> {
    const backup = join(ownedTempDir(), 'data');
    made.push(backup);
    await (asRoot ? run('runuser', ['-u', 'postgres', '--', 'cp', '-a', this.dataDir, backup]) : run('cp', ['-a', this.dataDir, backup]));
    return backup;
  }

  /** Replaces the (stopped) instance's data directory with a copy made by `coldCopy`. */
  async restore(backup: string): Promise<void> {
    rmSync(this.dataDir, { recursive: true, force: true });
    await (asRoot ? run('runuser', ['-u', 'postgres', '--', 'cp', '-a', backup, this.dataDir]) : run('cp', ['-a', backup, this.dataDir]));
  }

  #setPort() {
    appendFileSync(join(this.dataDir, 'postgresql.conf'), `port = ${this.port}\nunix_socket_directories = '${this.dir}'\n`);
  }

  async start(): Promise<void> {
    await pg('pg_ctl', ['-D', this.dataDir, '-l', join(this.dir, 'log'), '-w', '-t', '60', 'start']);
  }

  /** `immediate`: as if the machine died (no checkpoint; the next start recovers from the WAL). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await pg('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', 'stop']);
  }

  async promote(): Promise<void> {
    await pg('pg_ctl', ['-D', this.dataDir, '-w', 'promote']);
  }

  /** Replaces pg_hba.conf's rules (then reload): the first matching line decides. */
  setHba(lines: string[]): void {
    writeFileSync(join(this.dataDir, 'pg_hba.conf'), `${lines.join('\n')}\n`);
  }

  sql(database = 'postgres'): postgres.Sql {
    return postgres(this.url('postgres', database), { max: 2, onnotice: () => {}, connect_timeout: 5 });
  }
}

/** The pg_hba.conf lines initdb wrote with `-A trust`: everyone in from loopback, replication too. */
export const TRUST_LOOPBACK = [
  'local all all trust',
  'host all all 127.0.0.1/32 trust',
  'local replication all trust',
  'host replication all 127.0.0.1/32 trust',
];

/** Stops whatever of these instances still runs and removes every directory made. */
export async function removeAll(instances: PostgresInstance[]): Promise<void> {
  for (const i of instances) await i.stop('immediate').catch(() => {});
  for (const dir of made.splice(0)) rmSync(dir.endsWith('/data') ? dir.slice(0, -5) : dir, { recursive: true, force: true });
}
