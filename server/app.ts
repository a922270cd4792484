import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { reloadTokens, type Config } from './config.ts';
import { createDatabase } from './db/client.ts';
import { batchCreates } from './db/create-batcher.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded.ts';
import { logHead, readEventJsonAfter } from './db/events.ts';
import { sequenceEvents, setEventOrdering, vacuumPendingEvents } from './db/event-sequencing.ts';
import { migrateDatabase } from './db/migrate.ts';
import { EventHub } from './events/hub.ts';
import { ChangeListener } from './events/listener.ts';
import { CountBlockFiller } from './events/count-block-filler.ts';
import { LogPruner } from './events/log-pruner.ts';
import { Sequencer } from './events/sequencer.ts';
import { createHttpServer, type HttpMutationsDrill } from './http-server.ts';
import type { Logger } from './logger.ts';
import { createContextFactory } from './trpc/context.ts';
import { createCredentials } from './auth/credentials.ts';
import { createJwtVerifier } from './auth/jwt-verifier.ts';
import { createAuthenticator } from './auth/principal.ts';
import { sessionCookie } from './auth/session-cookie.ts';
import { SessionStore } from './auth/sessions.ts';
import { createSignInRoutes } from './auth/sign-in.ts';
import { createRateLimiter } from './auth/rate-limit.ts';
import { createClientAddressOf } from './client-address.ts';
import { Metrics } from './metrics.ts';
import { createOpsEndpoints } from './ops-endpoints.ts';
import { createRequestIdentity } from './request-identity.ts';

export type App = {
  /** http://host:port of the running server */
  url: string;
  port: number;
  /** The database itself, never a pooler: DIRECT_DATABASE_URL, else DATABASE_URL or the embedded one. */
  databaseUrl: string;
  listener: ChangeListener;
  hub: EventHub;
  metrics: Metrics;
  /**
   * From now on /readyz answers 503, so load balancers send new clients elsewhere; everything
   * else keeps being served until close(). The first step of a graceful shutdown.
   */
  drain(): void;
  /** Present when EVENT_RETENTION is set. */
  pruner: LogPruner | undefined;
  /**
   * Reads AUTH_TOKENS_FILE again (main.ts: on SIGHUP): removed tokens are revoked and their
   * streams end with UNAUTHORIZED. A bad file changes nothing (ConfigError).
   */
  reloadTokens(): { tokens: number; revoked: number };
  /** Stops taking work, closes clients and the database (and the embedded one, if ours). */
  close(): Promise<void>;
};

/**
 * What tests and fault drills do to a running server's connections and read of its insides;
 * production never does, so these are not on `App` (see `startAppWithDrills`).
 */
export type Drills = {
  /** How many tRPC requests the lean mutation path answered; a switch to send all to tRPC's handler. */
  httpMutations: HttpMutationsDrill;
  /** Cuts every WebSocket connection abruptly, as a network failure would. */
  dropWebSockets(): void;
  /** Bytes queued in memory for each open WebSocket. */
  webSocketBufferedBytes(): number[];
  /** Cuts every Server-Sent Events stream (their clients reconnect and resume); returns how many. */
  dropEventStreams(): number;
  /** Bytes queued in memory for each open event stream. */
  eventStreamBufferedBytes(): number[];
  /** WebSocket event messages built so far: at most one per event per request-id prefix. */
  eventMessagesBuilt(): number;
};

const HEALTH_QUERY_TIMEOUT_MS = 2_000;
/** A sequencer batch is short; one waiting longer is behind a lock or a dying connection. */
const SEQUENCE_TIMEOUT_MS = 5_000;
const COMMIT_MODE_SWEEP_MS = 1_000;
/**
 * Sequenced: while events flow, raw SQL writes wait for the sequencer's next look (half an
 * interval on average, the largest part of the delay sequenced ordering adds), so it looks
 * every millisecond until a second has passed without finding any (the node's own writes kick
 * their batches and do not count: server/events/sequencer.ts); then every
 * EVENT_SEQUENCE_INTERVAL again. Each look is one query, a probe of the queue; BENCHMARKS.md
 * ("Run 9", "Sequenced appends") has what they cost.
 */
const SEQUENCE_BUSY_INTERVAL_MS = 1;
const SEQUENCE_BUSY_FOR_MS = 1_000;
/** While events flow, the sequencer vacuums the queue it empties this often (event-sequencing.ts). */
const VACUUM_EVERY_MS = 1_000;
const VACUUM_TIMEOUT_MS = 10_000;

/**
 * Starts everything in order: database (embedded when no URL is configured), migrations, the
 * change listener, then the HTTP/WebSocket server. Nothing is served before the listener is
 * in place, so no subscriber can start ahead of it.
 */
export async function startApp(config: Config, log: Logger): Promise<App> {
  return (await startAppWithDrills(config, log)).app;
}

/** `startApp`, with the handles tests and fault drills use besides (`Drills`). */
export async function startAppWithDrills(config: Config, log: Logger): Promise<{ app: App; drills: Drills }> {
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(config.dataDir, log);
    databaseUrl = embedded.url;
    log.info({ databaseUrl }, 'started embedded PostgreSQL (set DATABASE_URL to use another)');
  }

  // Shutdown runs these in reverse: server first, database last.
  const cleanup: Array<[string, () => Promise<unknown>]> = [];
  if (embedded) cleanup.push(['embedded database', embedded.stop]);
  const unwind = async () => {
    for (const [name, step] of cleanup.reverse()) {
      const started = performance.now();
      await step().catch((err) => log.warn({ err, step: name }, 'shutdown step failed'));
      log.debug({ step: name, ms: Math.round(performance.now() - started) }, 'stopped');
    }
  };

  // Session state (the migration lock, LISTEN) needs a connection of its own, never a
  // transaction pooler's: through one, LISTEN hears nothing and a session lock is not held.
  const directUrl = config.directDatabaseUrl ?? databaseUrl;

  try {
    await migrateDatabase(directUrl);
    const { sql: client, db } = createDatabase(databaseUrl, { pooled: config.directDatabaseUrl !== undefined });
    cleanup.push(['database pool', () => client.end({ timeout: 2 })]);

    // Events the other mode left pending are positioned before this node serves anything.
    await setEventOrdering(db, config.eventOrdering);

    const metrics = new Metrics();
    const hub = new EventHub((await logHead(db)).resumeId, undefined, () => metrics.subscriberOverflowed());
    const listener = new ChangeListener({
      databaseUrl: directUrl,
      hub,
      log,
      metrics,
      readAfter: (after, limit) => readEventJsonAfter(db, after, limit),
    });
    await listener.start();
    cleanup.push(['listener', () => listener.stop()]);

    // Every node sequences, in either mode: in commit ordering only as a slow sweep for events
    // a transaction still appended the old way after a switch (drizzle/0006_sequenced_log.sql).
    const intervalMs = config.eventOrdering === 'sequenced' ? config.eventSequenceIntervalMs : COMMIT_MODE_SWEEP_MS;
    const sequencer = new Sequencer({
      sequence: () => sequenceEvents(client, SEQUENCE_TIMEOUT_MS),
      intervalMs,
      busyIntervalMs: Math.min(intervalMs, SEQUENCE_BUSY_INTERVAL_MS),
      busyForMs: SEQUENCE_BUSY_FOR_MS,
      vacuum: () => vacuumPendingEvents(client, VACUUM_TIMEOUT_MS),
      vacuumEveryMs: VACUUM_EVERY_MS,
      log,
    });
    sequencer.start();
    cleanup.push(['sequencer', () => sequencer.stop()]);

    const pruner =
      config.eventRetentionMs === undefined
        ? undefined
        : new LogPruner({ db, log, retentionMs: config.eventRetentionMs, intervalMs: config.eventPruneIntervalMs });
    if (pruner) {
      pruner.start();
      cleanup.push(['pruner', () => pruner.stop()]);
    }

    const countBlocks = new CountBlockFiller({ db, log });
    countBlocks.start();
    cleanup.push(['count blocks', () => countBlocks.stop()]);

    const pingDatabase = () =>
      Promise.race([
        db.execute(sql`select 1`).then(() => 'up' as const),
        new Promise<'down'>((resolve) => setTimeout(resolve, HEALTH_QUERY_TIMEOUT_MS, 'down').unref()),
      ]).catch(() => 'down' as const);
    const health = async () => {
      const database = await pingDatabase();
      const ok = database === 'up' && listener.state === 'listening';
      return { ok, database, listener: listener.state, position: hub.position, subscribers: hub.subscriberCount };
    };
    // Not ready while starting (nothing listens yet), while the database or the listener is
    // away (a new subscriber would only wait), and from drain() on.
    let draining = false;
    const readiness = async () => {
      if (draining) return { ready: false, reason: 'shutting down' };
      const { ok, ...status } = await health();
      return { ready: ok, ...status };
    };

    // Who may call: static tokens, JWTs from the issuer, and the page's signed-in sessions.
    const sessions = new SessionStore();
    const cookie = sessionCookie(config.signIn?.secureCookies ?? false);
    const jwt = config.jwt ? createJwtVerifier(config.jwt, log) : undefined;
    const tokens = createAuthenticator(config.tokens);
    const auth = createCredentials({
      tokens,
      jwt,
      sessions: config.signIn ? { store: sessions, cookie } : undefined,
      allowedOrigins: config.allowedOrigins,
      metrics,
    });
    const signIn = createSignInRoutes({
      signIn: config.signIn,
      jwt: config.jwt,
      sessions,
      cookie,
      allowedOrigins: config.allowedOrigins,
      metrics,
      log,
    });
    const identify = createRequestIdentity(createClientAddressOf(config.trustProxy));
    // Concurrent creates share transactions, as concurrent commits share WAL flushes: a
    // create's transaction costs far more than its row (db/create-batcher.ts).
    const creates = batchCreates(db, (size) => metrics.createGroupSent(size));
    const context = createContextFactory(
      {
        db,
        creates,
        hub,
        log,
        auth,
        writeLimiter: createRateLimiter(config.writeRateLimit),
        metrics,
        writeCommitted: config.eventOrdering === 'sequenced' ? () => sequencer.kick() : undefined,
      },
      identify,
    );
    const ops = createOpsEndpoints({ health, readiness, metrics, auth });
    const http = createHttpServer(config, { context, ops, signIn, identify, metrics }, log);
    metrics.observe({
      websocketConnections: http.webSocketCount,
      logPosition: () => hub.position,
      databaseUp: async () => (await pingDatabase()) === 'up',
      createsWaiting: () => creates.waiting,
    });
    await new Promise<void>((resolve, reject) => {
      http.server.once('error', reject);
      http.server.listen(config.port, config.host, () => resolve());
    });
    cleanup.push([
      'http server',
      () =>
        new Promise<void>((resolve) => {
          http.closeWebSockets();
          // EventSource reconnects by itself once its stream ends (elsewhere, or here once back).
          http.dropEventStreams();
          // close() waits for open connections; in-flight requests finish, and each
          // keep-alive connection is closed as soon as it falls idle, not at its timeout.
          const sweep = setInterval(() => http.server.closeIdleConnections(), 50);
          http.server.close(() => {
            clearInterval(sweep);
            resolve();
          });
        }),
    ]);

    const { port } = http.server.address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const app: App = {
      url: `http://${host}:${port}`,
      port,
      databaseUrl: directUrl,
      listener,
      hub,
      metrics,
      drain() {
        draining = true;
      },
      pruner,
      reloadTokens() {
        const next = reloadTokens(config);
        return { tokens: next.length, revoked: tokens.replace(next) };
      },
      close: unwind,
    };
    const drills: Drills = {
      dropWebSockets: http.dropWebSockets,
      webSocketBufferedBytes: http.webSocketBufferedBytes,
      dropEventStreams: http.dropEventStreams,
      eventStreamBufferedBytes: http.eventStreamBufferedBytes,
      eventMessagesBuilt: http.webSockets.eventMessagesBuilt,
      httpMutations: http.httpMutations,
    };
    return { app, drills };
  } catch (err) {
    await unwind();
    throw err;
  }
}
