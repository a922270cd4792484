import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../server/db/embedded.ts';
import { migrateDatabase } from '../../server/db/migrate.ts';
import { createLogger } from '../../server/logger.ts';
import { sleep } from '../../server/retry.ts';
import { Haproxy } from './haproxy.ts';

const log = createLogger('silent');
const PG_FLAGS = ['-c', 'max_connections=200'];

/**
 * A free loopback port below the kernel's ephemeral range. A killed node, or the stopped
 * database, keeps its port until it comes back; a port the kernel hands out for `listen(0)`
 * could meanwhile be given to another process (a test run's server, say), and subscribers
 * would talk to a stranger. Ports outside that range are never handed out that way.
 */
export async function freePort(): Promise<number> {
  const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const high = Math.min(ephemeralLow ?? 32768, 32768);
  const low = high - 12_000;
  for (;;) {
    const port = low + Math.floor(Math.random() * (high - low));
    const server = createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
}

/** One server process; it keeps its port across restarts so clients can find it again. */
export class Node {
  #child: ChildProcess | undefined;
  #output: string[] = [];

  constructor(
    readonly index: number,
    readonly port: number,
    private readonly databaseUrl: string,
    /** every line the process writes, across restarts, for a look after a failed run */
    readonly logFile: string,
    /** configuration beside the database and port (TRUST_PROXY, SHUTDOWN_DRAIN_MS, …) */
    private readonly env: Record<string, string> = {},
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts the process and waits until /healthz says it is ready (retrying while the database is down). */
  async start(deadlineMs = 60_000): Promise<void> {
    const until = Date.now() + deadlineMs;
    while (Date.now() < until) {
      const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
        env: { ...process.env, LOG_LEVEL: 'warn', ...this.env, DATABASE_URL: this.databaseUrl, PORT: String(this.port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.#child = child;
      const keep = (chunk: Buffer) => {
        this.#output.push(String(chunk));
        if (this.#output.length > 50) this.#output.shift();
        appendFileSync(this.logFile, chunk);
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      const exited = once(child, 'exit').then(() => 'exited' as const);
      while (Date.now() < until) {
        const state = await Promise.race([exited, this.#healthy().then((ok) => (ok ? ('ready' as const) : undefined))]);
        if (state === 'ready') return;
        if (state === 'exited') break; // e.g. started while the database was down: try again
        await sleep(100);
      }
      await sleep(250);
    }
    throw new Error(`node ${this.index} did not become ready:\n${this.#output.join('')}`);
  }

  async #healthy(): Promise<boolean> {
    try {
      const res = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(1_000) });
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** SIGKILL: no shutdown at all, as a crash or an OOM kill would do. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM, and the exit code the graceful shutdown ended with. */
  async stop(): Promise<number | null> {
    const child = this.#child;
    if (!child || !this.running) return child?.exitCode ?? null;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    return code as number | null;
  }
}

const running = new Set<Cluster>();

/** Stops every cluster still running: for Ctrl-C, so no node or database outlives the harness. */
export async function closeAllClusters(): Promise<void> {
  await Promise.all([...running].map((c) => c.close()));
}

export type ClusterOptions = {
  /** configuration for every node */
  env?: Record<string, string>;
  /** a real HAProxy with deploy/haproxy.cfg in front of the nodes */
  viaHaproxy?: boolean;
  /** more flags for the database server (the capacity bench loads pg_stat_statements) */
  databaseFlags?: string[];
};

/**
 * Behind HAProxy a node believes its X-Forwarded-For, and on SIGTERM it stays up until
 * HAProxy's checks (1 s apart, two failures) have taken it out; directly, it stops at once.
 */
const DIRECT_ENV = { SHUTDOWN_DRAIN_MS: '0' };
const BEHIND_HAPROXY_ENV = { TRUST_PROXY: '127.0.0.1', SHUTDOWN_DRAIN_MS: '3000' };

/** A database and several server nodes sharing it, optionally behind HAProxy. */
export class Cluster {
  #haproxy: Haproxy | undefined;

  private constructor(
    private readonly dir: string,
    private database: EmbeddedDatabase,
    readonly nodes: Node[],
    private readonly databaseFlags: string[],
  ) {}

  static async start(nodeCount: number, opts: ClusterOptions = {}): Promise<Cluster> {
    const dir = await mkdtemp(path.join(tmpdir(), 'live-orders-chaos-'));
    await chmod(dir, 0o755);
    const flags = [...PG_FLAGS, ...(opts.databaseFlags ?? [])];
    const database = await startEmbeddedPostgres(dir, log, flags, await freePort());
    await migrateDatabase(database.url);
    const ports = await Promise.all(Array.from({ length: nodeCount }, freePort));
    const env = { ...(opts.viaHaproxy ? BEHIND_HAPROXY_ENV : DIRECT_ENV), ...opts.env };
    const nodes = ports.map((port, i) => new Node(i, port, database.url, path.join(dir, `node-${i}.log`), env));
    const cluster = new Cluster(dir, database, nodes, flags);
    running.add(cluster);
    try {
      await Promise.all(nodes.map((n) => n.start()));
      if (opts.viaHaproxy) cluster.#haproxy = await Haproxy.start(dir, await freePort(), ports);
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  /** The HAProxy in front of the nodes, if started with `viaHaproxy`. */
  get haproxy(): Haproxy | undefined {
    return this.#haproxy;
  }

  /** Where clients connect: HAProxy's address, or each node's. */
  get entryUrls(): string[] {
    return this.#haproxy ? [this.#haproxy.url] : this.nodes.map((n) => n.url);
  }

  /** Where the database and the nodes' logs are. */
  get directory(): string {
    return this.dir;
  }

  get databaseUrl(): string {
    return this.database.url;
  }

  #databaseUp = true;
  get databaseUp(): boolean {
    return this.#databaseUp;
  }

  async stopDatabase(): Promise<void> {
    this.#databaseUp = false;
    await this.database.stop();
  }

  async startDatabase(): Promise<void> {
    this.database = await startEmbeddedPostgres(this.dir, log, this.databaseFlags, this.database.port);
    this.#databaseUp = true;
  }

  async close(): Promise<void> {
    running.delete(this);
    await this.#haproxy?.stop();
    await Promise.all(this.nodes.map((n) => n.kill()));
    await this.database.stop().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}
