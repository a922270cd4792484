import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.ts';
import { stopChild } from './server-process.ts';

/**
 * A request/reply channel over Node's IPC between the orchestrator and one bench process
 * (subscriber client, write client, baseline server). Each bench process is its own OS
 * process, so its CPU never competes inside the server's event loop.
 */
type Request = { id: number; command: string; args: unknown };
type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export type BenchChild = {
  pid: number;
  call<T>(command: string, args?: unknown, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
};

/** `execArgv`: further Node flags for the child (a CPU profile of the baseline server). */
export function startChild(script: string, execArgv: string[] = []): BenchChild {
  const child: ChildProcess = fork(fileURLToPath(new URL(script, import.meta.url)), [], {
    execArgv: ['--import', 'tsx', ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const unregister = onCleanup(`${script} ${child.pid}`, () => stopChild(child, exited, 2_000));
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let next = 1;
  child.on('message', (m: Reply) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(`${script}: ${m.error}`));
  });
  child.once('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`${script} exited (${code ?? signal}) during a call`));
    pending.clear();
  });
  return {
    pid: child.pid!,
    call<T>(command: string, args?: unknown, timeoutMs = 120_000): Promise<T> {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${script}: "${command}" got no reply within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ id, command, args } satisfies Request);
      });
    },
    async stop() {
      child.disconnect?.();
      await stopChild(child, exited, 2_000);
      unregister();
    },
  };
}

/**
 * The other end, in the bench process: runs handlers for commands and replies. The process
 * exits when the orchestrator goes away, so no client outlives a crashed run.
 */
export function serveCommands(handlers: Record<string, (args: never) => Promise<unknown> | unknown>): void {
  process.on('disconnect', () => process.exit(0));
  // Through exit, so that a child run with --cpu-prof writes its profile when stopped.
  process.on('SIGTERM', () => process.exit(0));
  process.on('message', (m: Request) => {
    const handler = handlers[m.command];
    void (async () => {
      try {
        if (!handler) throw new Error(`unknown command ${m.command}`);
        const result = await handler(m.args as never);
        process.send!({ id: m.id, ok: true, result: result ?? null } satisfies Reply);
      } catch (err) {
        process.send!({ id: m.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies Reply);
      }
    })();
  });
}
