import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { sleep } from '../../server/retry.ts';

/** Debian installs it in /usr/sbin, which is not on every user's PATH. */
const HAPROXY_BIN = existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy';

/** The production configuration; tests and the chaos harness run it with their own ports. */
export const HAPROXY_CONFIG = path.resolve(import.meta.dirname, '../../deploy/haproxy.cfg');

/**
 * deploy/haproxy.cfg with the frontend's `bind` on `port` (loopback) and one `server` line per
 * node port in place of the file's own, plus a stats socket to ask HAProxy what it thinks of
 * each node. Everything else (timeouts, health checks, balancing, X-Forwarded-For) is the
 * file's. Fails if the file no longer has the lines it replaces, so the tests cannot drift
 * from it unnoticed.
 */
export function haproxyConfigFor(port: number, nodePorts: readonly number[], statsSocket: string): string {
  const lines = readFileSync(HAPROXY_CONFIG, 'utf8').split('\n');
  const bind = lines.findIndex((l) => /^\s+bind\s/.test(l));
  const servers = lines.flatMap((l, i) => (/^\s+server\s/.test(l) ? [i] : []));
  const global = lines.findIndex((l) => /^global\s*$/.test(l));
  if (bind < 0 || servers.length === 0 || global < 0) {
    throw new Error(`${HAPROXY_CONFIG}: expected a "global" section, a "bind" line and "server" lines to replace`);
  }
  const indent = /^\s+/.exec(lines[servers[0]!]!)![0];
  const serverLines = nodePorts.map((p, i) => `${indent}server node${i + 1} 127.0.0.1:${p} check`);
  const out = lines.map((l, i) => (i === bind ? `${indent}bind 127.0.0.1:${port}` : l));
  out.splice(servers[0]!, servers.length, ...serverLines);
  out.splice(global + 1, 0, `    stats socket ${statsSocket} mode 600 level admin`);
  return out.join('\n');
}

/** HAProxy's view of one node: UP, DOWN, MAINT, or a transition like "UP 1/2". */
export type NodeStatus = { name: string; status: string; currentSessions: number };

/** A real HAProxy (Debian's `haproxy`) in front of nodes on loopback. */
export class Haproxy {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly statsSocket: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts HAProxy with deploy/haproxy.cfg for `nodePorts`; its output goes to `dir`/haproxy.log. */
  static async start(dir: string, port: number, nodePorts: readonly number[]): Promise<Haproxy> {
    const configFile = path.join(dir, 'haproxy.cfg');
    const statsSocket = path.join(dir, 'haproxy.sock');
    await writeFile(configFile, haproxyConfigFor(port, nodePorts, statsSocket));
    const logFile = path.join(dir, 'haproxy.log');
    // -db: stay in the foreground, so the process is ours to stop.
    const child = spawn(HAPROXY_BIN, ['-db', '-f', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => appendFileSync(logFile, chunk);
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const spawned = await Promise.race([once(child, 'spawn').then(() => true), once(child, 'error').then(() => false)]);
    if (!spawned) throw new Error('cannot start haproxy: install it (apt-get install -y haproxy)');
    const proxy = new Haproxy(child, port, statsSocket);
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}:\n${readFileSync(logFile, 'utf8')}`);
      const statuses = await proxy.nodes().catch(() => []);
      if (statuses.length === nodePorts.length && statuses.every((s) => s.status === 'UP')) return proxy;
      await sleep(100);
    }
    await proxy.stop();
    throw new Error(`haproxy did not see every node UP within 15 s:\n${readFileSync(logFile, 'utf8')}`);
  }

  /** What HAProxy thinks of each node, from its stats socket. */
  async nodes(): Promise<NodeStatus[]> {
    const csv = await this.#ask('show stat');
    const [header, ...rows] = csv.split('\n').filter((l) => l.trim() !== '');
    const columns = header!.replace(/^# /, '').split(',');
    const at = (name: string) => columns.indexOf(name);
    return rows
      .map((r) => r.split(','))
      .filter((r) => r[at('pxname')] === 'live_orders' && r[at('svname')] !== 'BACKEND' && r[at('svname')] !== 'FRONTEND')
      .map((r) => ({ name: r[at('svname')]!, status: r[at('status')]!, currentSessions: Number(r[at('scur')]) }));
  }

  #ask(command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.statsSocket);
      let out = '';
      socket.setEncoding('utf8');
      socket.on('data', (d) => (out += d));
      socket.on('end', () => resolve(out));
      socket.on('error', reject);
      socket.end(`${command}\n`);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM'); // HAProxy's hard stop: closes everything at once
    await exited;
  }
}
