/**
 * Start-up: spawn to the first `/healthz` 200, the way `npm start` runs the server (minus
 * the page build), with the embedded database's data directory already initialised. The
 * first start, which runs initdb, is timed too but is not the figure.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onCleanup } from '../cleanup.ts';
import { killCluster } from '../database.ts';
import { startServer } from '../server-process.ts';
import type { ScenarioContext } from './context.ts';

export async function runStartup(ctx: ScenarioContext): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'live-orders-bench-start-'));
  await chmod(dir, 0o755);
  // If the server dies without stopping its PostgreSQL, stop it ourselves.
  const unregister = onCleanup(`startup data ${dir}`, async () => {
    killCluster(dir);
    await rm(dir, { recursive: true, force: true });
  });
  try {
    // An empty DATABASE_URL counts as unset: the server starts its embedded database in DATA_DIR.
    const env = { DATABASE_URL: '', DATA_DIR: dir };
    ctx.log('startup: first start (initialises the data directory)');
    const first = await startServer(env);
    await first.stop();
    const runs: number[] = [];
    for (let i = 0; i < ctx.sizes.startupRuns; i++) {
      const s = await startServer(env);
      runs.push(s.readyMs);
      await s.stop();
    }
    const sorted = [...runs].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    ctx.details.startup = { firstStartMs: first.readyMs, startsMs: runs };
    ctx.log(`startup: ${runs.map((r) => r.toFixed(0)).join(', ')} ms (first start ${first.readyMs.toFixed(0)} ms)`);
    ctx.rows.push({
      scenario: 'start-up',
      metric: `spawn to /healthz 200, median of ${runs.length}`,
      unit: 'ms',
      ours: median,
    });
    ctx.rows.push({ scenario: 'start-up', metric: 'first start, with initdb', unit: 'ms', ours: first.readyMs });
  } finally {
    await unregister();
    killCluster(dir);
    await rm(dir, { recursive: true, force: true });
  }
}
