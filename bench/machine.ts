import { readFileSync } from 'node:fs';
import os from 'node:os';

/** What the figures were measured on: they mean little without it. */
export function describeMachine(postgresVersion: string): Record<string, string | number> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  return {
    cpus: os.availableParallelism(),
    cpuModel: model,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: postgresVersion,
    kernel: os.release(),
  };
}
