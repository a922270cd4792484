/**
 * `npm run bench`: starts its own embedded PostgreSQL, runs each scenario against the server
 * as a child process, driven by client processes over loopback, and prints one table of our
 * figures beside baselines measured in the same run (also written to .bench/results.json).
 *
 *   npm run bench                     # everything, a few minutes
 *   npm run bench -- --smoke          # tiny sizes, ~20 s: does the harness work?
 *   npm run bench -- --only fanout,writes
 *
 * Exits non-zero only when the harness itself fails; a missed target is a result.
 */
import { execSync } from 'node:child_process';
import { cleanUpOnSignals, cleanupAll, onCleanup } from './cleanup.ts';
import { killCluster, startBenchDatabase } from './database.ts';
import { describeMachine } from './machine.ts';
import { parseOptions, type ScenarioName } from './options.ts';
import { renderTable, writeReport, type Report } from './report.ts';
import { runCatchUp } from './scenarios/catch-up.ts';
import type { ScenarioContext } from './scenarios/context.ts';
import { runFanout } from './scenarios/fanout.ts';
import { runGlance } from './scenarios/glance.ts';
import { runMemory } from './scenarios/memory.ts';
import { runOrdering } from './scenarios/ordering.ts';
import { runStartup } from './scenarios/startup.ts';
import { runWideFanout } from './scenarios/wide-fanout.ts';
import { runWrites } from './scenarios/writes.ts';
import { buildServer, REPO_ROOT } from './server-process.ts';

const SCENARIO_RUNNERS: Record<ScenarioName, (ctx: ScenarioContext) => Promise<void>> = {
  fanout: runFanout,
  wide: runWideFanout,
  writes: runWrites,
  ordering: runOrdering,
  catchup: runCatchUp,
  memory: runMemory,
  startup: runStartup,
  glance: runGlance,
};

// Descriptors a client process keeps for itself (node, IPC, stdio) besides its sockets.
const RESERVED_DESCRIPTORS = 500;

function openFileLimit(): number {
  const limit = execSync('ulimit -n', { shell: '/bin/sh', encoding: 'utf8' }).trim();
  return limit === 'unlimited' ? 1_000_000 : Number(limit);
}

const log = (message: string) => process.stderr.write(`${message}\n`);

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  cleanUpOnSignals();
  const fdLimit = openFileLimit();
  const largest = Math.max(...options.sizes.fanoutSubscribers, 2 * options.sizes.idleSubscribers, options.sizes.wide.subscribers);
  // The server holds every socket in one process: it needs the descriptors, we cannot split it.
  if (fdLimit < largest + RESERVED_DESCRIPTORS) {
    log(`bench: ulimit -n is ${fdLimit}; the server needs ${largest + RESERVED_DESCRIPTORS} for ${largest} sockets. Raise it (ulimit -n 65536) and run again.`);
    return 1;
  }

  const startedAt = new Date();
  log(`bench: ${options.smoke ? 'smoke run' : 'full run'} of ${options.only.join(', ')}; building the server`);
  buildServer();
  log('bench: starting PostgreSQL');
  let dataDir: string | undefined;
  onCleanup('bench database (last resort)', () => {
    if (dataDir) killCluster(dataDir);
  });
  const database = await startBenchDatabase((dir) => (dataDir = dir));
  onCleanup('bench database', () => database.stop());

  const report: Report = {
    startedAt: startedAt.toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: describeMachine(database.version),
    rows: [],
    details: { smoke: options.smoke, sizes: options.sizes, ulimitN: fdLimit },
    failures: [],
  };
  const ctx: ScenarioContext = {
    database,
    sizes: options.sizes,
    smoke: options.smoke,
    rows: report.rows,
    details: report.details,
    socketsPerProcess: fdLimit - RESERVED_DESCRIPTORS,
    log,
  };

  for (const name of options.only) {
    const t0 = performance.now();
    try {
      await SCENARIO_RUNNERS[name](ctx);
    } catch (err) {
      // One broken scenario should not hide the others' figures; the run still fails.
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      report.failures.push(`${name}: ${message}`);
      log(`bench: scenario ${name} failed: ${message}`);
    }
    log(`bench: ${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  if (options.smoke) {
    // Tiny sizes prove the harness works; judging their figures would only mislead.
    for (const row of report.rows) delete row.pass;
  }
  const file = await writeReport(REPO_ROOT, report);
  const m = report.machine;
  process.stdout.write(
    `\nlive-orders bench, ${report.startedAt}, ${report.command}\n` +
      `${m.cpus} x ${m.cpuModel}, ${m.memoryGb} GB, node ${m.node}, PostgreSQL ${m.postgres}\n\n` +
      `${renderTable(report.rows)}\n\nfull results: ${file}\n` +
      (options.smoke ? 'smoke run: sizes are tiny, so no figure is judged against its target.\n' : ''),
  );
  if (report.failures.length > 0) {
    log(`bench: ${report.failures.length} scenario(s) failed to run`);
    return 1;
  }
  return 0;
}

const started = performance.now();
main()
  .catch((err) => {
    log(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  })
  .then(async (code) => {
    await cleanupAll();
    log(`bench: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    process.exit(code);
  });
