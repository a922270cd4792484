/**
 * Everything the run started, undone in reverse order whether it ends normally, throws, or
 * is interrupted (Ctrl-C, SIGTERM). Steps are idempotent and never throw.
 */
const steps: Array<{ name: string; run: () => Promise<void> | void }> = [];
let running: Promise<void> | undefined;

export function onCleanup(name: string, run: () => Promise<void> | void): () => void {
  const step = { name, run };
  steps.push(step);
  return () => {
    const i = steps.indexOf(step);
    if (i >= 0) steps.splice(i, 1);
  };
}

export function cleanupAll(): Promise<void> {
  running ??= (async () => {
    while (steps.length > 0) {
      const step = steps.pop()!;
      try {
        await step.run();
      } catch (err) {
        process.stderr.write(`bench: cleanup "${step.name}" failed: ${String(err)}\n`);
      }
    }
  })();
  return running;
}

/** Ctrl-C and SIGTERM clean up, then exit non-zero: an interrupted run is not a result. */
export function cleanUpOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, cleaning up\n`);
      const force = setTimeout(() => process.exit(130), 15_000);
      force.unref();
      void cleanupAll().finally(() => process.exit(130));
    });
  }
}
