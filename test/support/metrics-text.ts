import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * One sample from Prometheus text: the series `name` whose labels include `labels`
 * (undefined when there is none).
 */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

/** `promtool check metrics` on `text`: its exit code and what it said. */
export function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const promtool = existsSync('/usr/bin/promtool') ? '/usr/bin/promtool' : 'promtool';
    const child = execFile(promtool, ['check', 'metrics'], (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(new Error(`cannot run promtool (apt-get install -y prometheus): ${err.message}`));
      resolve({ code: err ? (err.code as number) : 0, output: `${stdout}${stderr}` });
    });
    child.stdin!.end(text);
  });
}
