import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.ts';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A free TCP port on loopback, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export type ServerProcess = {
  pid: number;
  url: string;
  wsUrl: string;
  /** ms from spawn to the first `/healthz` 200 */
  readyMs: number;
  /** "running", or how it exited, with its last output: for explaining failed calls */
  describe(): string;
  stop(): Promise<void>;
};

export type ServerEnv = { DATABASE_URL?: string; DATA_DIR?: string; EVENT_ORDERING?: 'commit' | 'sequenced' };

/**
 * Compiles the server as `npm run build:server` does, so that what the bench runs is what
 * production runs (`npm run start:prod`, the Dockerfile). Once per bench run.
 */
export function buildServer(): void {
  execFileSync('npm', ['run', '--silent', 'build:server'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * Spawns `node --enable-source-maps dist/server/main.js`, the production command (build it
 * first: `buildServer`). Not `tsx server/main.ts`: tsx compiles with esbuild's keepNames,
 * which gives every named closure a renamed `name` (memory per subscription) and leaves the
 * hot path's code a little different from what ships. Node itself is the child (not npm), so
 * its pid is the server's, and /proc/<pid> measures the server alone.
 */
/**
 * BENCH_CPU_PROF=<dir>: each server, ours and the bare ws baseline, writes a V8 CPU profile
 * there when it stops (named by its pid, which the run's log does not print: the newest two
 * files of a fan-out run are ours, then the baseline's).
 */
export function cpuProfileFlags(): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

export async function startServer(env: ServerEnv, deadlineMs = 60_000): Promise<ServerProcess> {
  const port = await freePort();
  const spawned = performance.now();
  const profile = cpuProfileFlags();
  const child = spawn(process.execPath, [...profile, '--enable-source-maps', path.join('dist', 'server', 'main.js')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      // Every bench client comes from 127.0.0.1: the per-address limits meant for the open
      // internet would measure themselves, not the server.
      WRITE_RATE_LIMIT: '0',
      MAX_CONNECTIONS_PER_ADDRESS: '1000000',
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 50) output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const unregister = onCleanup(`server ${child.pid}`, () => stopChild(child, exited));

  const url = `http://127.0.0.1:${port}`;
  let readyMs: number | undefined;
  while (readyMs === undefined) {
    if (child.exitCode !== null) {
      unregister();
      throw new Error(`server exited with ${child.exitCode} before it was healthy:\n${output.join('')}`);
    }
    if (performance.now() - spawned > deadlineMs) {
      await stopChild(child, exited);
      unregister();
      throw new Error(`server not healthy within ${deadlineMs} ms:\n${output.join('')}`);
    }
    const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) })
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) readyMs = performance.now() - spawned;
    else await new Promise((r) => setTimeout(r, 20));
  }
  return {
    pid: child.pid!,
    url,
    wsUrl: `ws://127.0.0.1:${port}/trpc`,
    readyMs,
    describe() {
      if (child.exitCode === null && child.signalCode === null) return 'running';
      return `exited (${child.exitCode ?? child.signalCode}); last output:\n${output.join('')}`;
    },
    async stop() {
      await stopChild(child, exited);
      unregister();
    },
  };
}

/** SIGTERM (the server's graceful shutdown, which stops an embedded database too), then SIGKILL. */
export async function stopChild(child: ChildProcess, exited: Promise<unknown>, graceMs = 8_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
