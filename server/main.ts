import { startApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './logger.ts';

// Start-up and shutdown order only; everything else is in app.ts.
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`live-orders: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const app = await startApp(config, log);
  log.info({ url: app.url }, `live-orders listening on ${app.url}`);

  // SIGTERM is how orchestrators ask a node behind a load balancer to go: first stop being
  // ready and keep serving for SHUTDOWN_DRAIN_MS, so the balancer's health checks move new
  // clients elsewhere before anyone is turned away; then shut down. SIGINT (Ctrl-C), or a
  // second signal during the drain, shuts down at once.
  let endDrain: (() => void) | undefined;
  const drain = async () => {
    app.drain();
    log.info({ drainMs: config.shutdownDrainMs }, 'draining: /readyz answers 503, still serving');
    await new Promise<void>((resolve) => {
      endDrain = resolve;
      setTimeout(resolve, config.shutdownDrainMs);
    });
  };

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      endDrain?.();
      return;
    }
    stopping = true;
    if (signal === 'SIGTERM' && config.shutdownDrainMs > 0) await drain();
    log.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      log.error('shutdown took longer than 5 s; exiting');
      process.exit(1);
    }, 5_000);
    const started = performance.now();
    await app.close();
    clearTimeout(deadline);
    log.info({ ms: Math.round(performance.now() - started) }, 'stopped');
    process.exit(0);
  };
  // SIGHUP: AUTH_TOKENS_FILE is read again; a removed token's streams end at once.
  process.on('SIGHUP', () => {
    try {
      log.info(app.reloadTokens(), 'reloaded the tokens');
    } catch (err) {
      log.error({ err: { message: (err as Error).message } }, 'kept the tokens as they were');
    }
  });
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`live-orders failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
