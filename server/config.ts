import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { trustedProxyProblem } from './client-address.ts';

const postgresUrl = z.string().refine((s) => /^postgres(ql)?:\/\//.test(s), 'must be a postgres:// or postgresql:// URL');

const DURATION_UNITS_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `90s`, `1m`, `12h`, `30d` (also `500ms`), as milliseconds; more than zero. */
function durationMs() {
  return z.string().transform((text, ctx) => {
    const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
    const ms = match ? Number(match[1]) * DURATION_UNITS_MS[match[2] as keyof typeof DURATION_UNITS_MS] : NaN;
    if (!(ms > 0) || !Number.isSafeInteger(ms)) {
      ctx.addIssue({ code: 'custom', message: 'must be a positive duration such as 90s, 1m, 12h or 30d' });
      return z.NEVER;
    }
    return ms;
  });
}

const configSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: postgresUrl.optional(),
  /** a session connection for migrations and LISTEN; DATABASE_URL may then be a transaction pooler */
  DIRECT_DATABASE_URL: postgresUrl.optional(),
  /** where the embedded PostgreSQL keeps its data when DATABASE_URL is unset */
  DATA_DIR: z.string().min(1).default('./.data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** the built page served at `/` */
  WEB_DIST_DIR: z.string().min(1).default('./dist/web'),
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  /** `name:role:secret,…` */
  AUTH_TOKENS: z.string().optional(),
  /** a JSON file `[{"name","role","token"}]` */
  AUTH_TOKENS_FILE: z.string().optional(),
  /** origins allowed to open a WebSocket; unset: the server's own */
  ALLOWED_ORIGINS: z.string().optional(),
  /** mutations per second per token (or client address without tokens); 0: no limit */
  WRITE_RATE_LIMIT: z.coerce.number().min(0).default(1000),
  /** open WebSockets and SSE streams per client address */
  MAX_CONNECTIONS_PER_ADDRESS: z.coerce.number().int().min(1).default(500),
  /** proxies whose X-Forwarded-For is believed: addresses or CIDRs, comma-separated */
  TRUST_PROXY: z
    .string()
    .transform((s) => s.split(',').map((e) => e.trim()).filter(Boolean))
    .superRefine((entries, ctx) => {
      for (const entry of entries) {
        const problem = trustedProxyProblem(entry);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }
    })
    .default([]),
  /** after SIGTERM, how long to keep serving with /readyz at 503 before closing */
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).max(600_000).default(5_000),
  /** how long events stay in the log (`30d`, `12h`, `90s`); unset: for ever */
  EVENT_RETENTION: durationMs().optional(),
  /** how often old events are pruned */
  EVENT_PRUNE_INTERVAL: durationMs().default(60_000),
  /** how events get their positions: at COMMIT (`commit`), or by a sequencer in batches (`sequenced`) */
  EVENT_ORDERING: z.enum(['commit', 'sequenced']).default('commit'),
  /** sequenced: how often an idle node looks for committed events to position (while events flow it looks every 1 ms; its own writes start a batch at once); an idle look is one index probe, no lock */
  EVENT_SEQUENCE_INTERVAL: durationMs().default(5),
  /** an OpenID Connect issuer whose bearer JWTs are accepted beside AUTH_TOKENS */
  AUTH_JWT_ISSUER: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** the `aud` a JWT must carry */
  AUTH_JWT_AUDIENCE: z.string().min(1).max(512).optional(),
  /** the claim holding a JWT's roles (a string or an array) */
  AUTH_JWT_ROLE_CLAIM: z.string().min(1).max(256).default('roles'),
  /** how far a JWT's exp, nbf and iat may be off from our clock */
  AUTH_JWT_CLOCK_SKEW: durationMs().default(30_000),
  /** the page's sign-in: this server's client at the issuer */
  AUTH_OIDC_CLIENT_ID: z.string().min(1).max(512).optional(),
  AUTH_OIDC_CLIENT_SECRET: z.string().min(1).max(2048).optional(),
  /** the server's address as a browser reaches it (the sign-in's redirect URL starts with it) */
  PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** how long a signed-in session lasts without a refresh from the issuer */
  AUTH_SESSION_TTL: durationMs().default(3_600_000),
  /** the scopes the sign-in asks for; offline_access for a refresh token */
  AUTH_OIDC_SCOPES: z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/, 'space-separated scopes').default('openid email profile offline_access'),
  /** the name on the page's sign-in button; default the issuer's host */
  AUTH_OIDC_PROVIDER_NAME: z.string().min(1).max(64).optional(),
});

const ROLES = ['reader', 'writer'] as const;
export type Role = (typeof ROLES)[number];
export type TokenEntry = Readonly<{ name: string; role: Role; secret: string }>;

/** Bearer JWTs from an OpenID Connect issuer (server/auth/jwt-verifier.ts). */
export type JwtConfig = Readonly<{
  /** as configured, without a trailing slash unless it was given one: compared with `iss` exactly */
  issuer: string;
  audience: string;
  roleClaim: string;
  clockSkewMs: number;
}>;

/** The page's sign-in with the same issuer (server/auth/sign-in.ts). */
export type OidcSignInConfig = Readonly<{
  clientId: string;
  /** absent: a public client (PKCE alone) */
  clientSecret: string | undefined;
  /** origin (and path prefix, if any) the browser uses; no trailing slash */
  publicUrl: string;
  /** over https: the session cookie is Secure */
  secureCookies: boolean;
  sessionTtlMs: number;
  scopes: string;
  providerName: string;
}>;

const tokenEntry = z.object({
  name: z.string().regex(/^[\w.@-]{1,64}$/, 'name: 1-64 letters, digits, _ . @ -'),
  role: z.enum(ROLES),
  secret: z.string().min(16, 'a token must be at least 16 characters').max(512),
});

export type Config = Readonly<{
  port: number;
  host: string;
  databaseUrl: string | undefined;
  /**
   * Set: `databaseUrl` may be a transaction-mode pooler, so it gets no prepared statements and
   * no session state; migrations and LISTEN go here.
   */
  directDatabaseUrl: string | undefined;
  dataDir: string;
  logLevel: z.infer<typeof configSchema>['LOG_LEVEL'];
  webDistDir: string;
  maxBodyBytes: number;
  /** empty: access control off (loopback only) */
  tokens: readonly TokenEntry[];
  /** where the tokens came from, read again by `reloadTokens` (SIGHUP) */
  tokenSources: Readonly<{ list: string | undefined; file: string | undefined }>;
  /** undefined: same origin only */
  allowedOrigins: readonly string[] | undefined;
  writeRateLimit: number;
  maxConnectionsPerAddress: number;
  /** empty: X-Forwarded-For is ignored */
  trustProxy: readonly string[];
  shutdownDrainMs: number;
  /** undefined: events are kept for ever */
  eventRetentionMs: number | undefined;
  eventPruneIntervalMs: number;
  /** see drizzle/0006_sequenced_log.sql */
  eventOrdering: 'commit' | 'sequenced';
  eventSequenceIntervalMs: number;
  /** undefined: no JWTs accepted */
  jwt: JwtConfig | undefined;
  /** undefined: the page offers no sign-in with the issuer */
  signIn: OidcSignInConfig | undefined;
}>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * The only reader of the environment. Empty strings count as unset, so `PORT= npm start`
 * means the default rather than port 0.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const c = parsed.data;
  if (c.DIRECT_DATABASE_URL && !c.DATABASE_URL) {
    throw new ConfigError('invalid configuration: DIRECT_DATABASE_URL is set but DATABASE_URL is not; set both, or neither for the embedded database');
  }
  const tokenSources = Object.freeze({ list: c.AUTH_TOKENS, file: c.AUTH_TOKENS_FILE });
  const tokens = readTokens(tokenSources);
  const jwt = jwtConfig(c);
  const signIn = signInConfig(c, jwt);
  if (tokens.length === 0 && !jwt && !isLoopback(c.HOST)) {
    throw new ConfigError(
      `refusing to listen on ${c.HOST} with access control off: set AUTH_TOKENS (name:role:secret,…), ` +
        'AUTH_TOKENS_FILE or AUTH_JWT_ISSUER, or listen on loopback (HOST=127.0.0.1)',
    );
  }
  return Object.freeze({
    port: c.PORT,
    host: c.HOST,
    databaseUrl: c.DATABASE_URL,
    directDatabaseUrl: c.DIRECT_DATABASE_URL,
    dataDir: c.DATA_DIR,
    logLevel: c.LOG_LEVEL,
    webDistDir: c.WEB_DIST_DIR,
    maxBodyBytes: c.MAX_BODY_BYTES,
    tokens,
    tokenSources,
    allowedOrigins: c.ALLOWED_ORIGINS === undefined ? undefined : Object.freeze(c.ALLOWED_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean)),
    writeRateLimit: c.WRITE_RATE_LIMIT,
    maxConnectionsPerAddress: c.MAX_CONNECTIONS_PER_ADDRESS,
    trustProxy: Object.freeze(c.TRUST_PROXY),
    shutdownDrainMs: c.SHUTDOWN_DRAIN_MS,
    eventRetentionMs: c.EVENT_RETENTION,
    eventPruneIntervalMs: c.EVENT_PRUNE_INTERVAL,
    eventOrdering: c.EVENT_ORDERING,
    eventSequenceIntervalMs: c.EVENT_SEQUENCE_INTERVAL,
    jwt,
    signIn,
  });
}

/**
 * The static tokens as their sources say now: `AUTH_TOKENS` as started, and `AUTH_TOKENS_FILE`
 * read again, so that a token removed from the file is revoked without a restart. Validated
 * like at start-up; a bad file changes nothing (ConfigError).
 */
export function reloadTokens(config: Config): readonly TokenEntry[] {
  const tokens = readTokens(config.tokenSources);
  // On or off is decided at start-up, with HOST: a reload may not turn access control off.
  if (config.tokens.length > 0 && tokens.length === 0 && !config.jwt) {
    throw new ConfigError('AUTH_TOKENS_FILE: a reload that leaves no token would turn access control off; restart for that');
  }
  if (config.tokens.length === 0 && tokens.length > 0 && !config.jwt) {
    throw new ConfigError('AUTH_TOKENS_FILE: access control was off at start-up; restart to turn it on');
  }
  return tokens;
}

function readTokens(sources: Config['tokenSources']): readonly TokenEntry[] {
  const tokens = [...parseTokenList(sources.list), ...readTokenFile(sources.file)];
  const names = tokens.map((t) => t.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new ConfigError(`invalid configuration: AUTH_TOKENS: the name "${twice}" is used twice`);
  return Object.freeze(tokens);
}

type ParsedEnv = z.infer<typeof configSchema>;

function jwtConfig(c: ParsedEnv): JwtConfig | undefined {
  if (!c.AUTH_JWT_ISSUER) {
    const stray = (['AUTH_JWT_AUDIENCE', 'AUTH_OIDC_CLIENT_ID', 'AUTH_OIDC_CLIENT_SECRET'] as const).find((k) => c[k] !== undefined);
    if (stray) throw new ConfigError(`invalid configuration: ${stray} is set but AUTH_JWT_ISSUER is not`);
    return undefined;
  }
  const issuer = new URL(c.AUTH_JWT_ISSUER);
  // Keys fetched over plain HTTP could be swapped by anyone on the path; loopback has no path.
  if (issuer.protocol !== 'https:' && !isLoopback(issuer.hostname)) {
    throw new ConfigError('invalid configuration: AUTH_JWT_ISSUER: must be https:// (http:// only on a loopback address such as 127.0.0.1)');
  }
  if (issuer.search || issuer.hash || issuer.username || issuer.password) {
    throw new ConfigError('invalid configuration: AUTH_JWT_ISSUER: an issuer URL has no query, fragment or credentials');
  }
  if (!c.AUTH_JWT_AUDIENCE) throw new ConfigError('invalid configuration: AUTH_JWT_AUDIENCE is required with AUTH_JWT_ISSUER');
  return Object.freeze({
    // `iss` must equal the issuer as the provider spells it; the env's spelling is that one.
    issuer: c.AUTH_JWT_ISSUER,
    audience: c.AUTH_JWT_AUDIENCE,
    roleClaim: c.AUTH_JWT_ROLE_CLAIM,
    clockSkewMs: c.AUTH_JWT_CLOCK_SKEW,
  });
}

function signInConfig(c: ParsedEnv, jwt: JwtConfig | undefined): OidcSignInConfig | undefined {
  if (!c.AUTH_OIDC_CLIENT_ID) {
    if (c.AUTH_OIDC_CLIENT_SECRET) throw new ConfigError('invalid configuration: AUTH_OIDC_CLIENT_SECRET is set but AUTH_OIDC_CLIENT_ID is not');
    return undefined;
  }
  if (!jwt) throw new ConfigError('invalid configuration: AUTH_OIDC_CLIENT_ID is set but AUTH_JWT_ISSUER is not');
  if (!c.PUBLIC_URL) {
    throw new ConfigError('invalid configuration: PUBLIC_URL is required with AUTH_OIDC_CLIENT_ID (the sign-in redirects back to PUBLIC_URL/auth/callback)');
  }
  const publicUrl = new URL(c.PUBLIC_URL);
  if (publicUrl.protocol !== 'https:' && !isLoopback(publicUrl.hostname)) {
    throw new ConfigError('invalid configuration: PUBLIC_URL: must be https:// (http:// only on a loopback address), or the session cookie would travel in the clear');
  }
  return Object.freeze({
    clientId: c.AUTH_OIDC_CLIENT_ID,
    clientSecret: c.AUTH_OIDC_CLIENT_SECRET,
    publicUrl: `${publicUrl.origin}${publicUrl.pathname.replace(/\/+$/, '')}`,
    secureCookies: publicUrl.protocol === 'https:',
    sessionTtlMs: c.AUTH_SESSION_TTL,
    scopes: c.AUTH_OIDC_SCOPES.split(' ').includes('openid') ? c.AUTH_OIDC_SCOPES : `openid ${c.AUTH_OIDC_SCOPES}`,
    providerName: c.AUTH_OIDC_PROVIDER_NAME ?? new URL(jwt.issuer).host,
  });
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function tokenProblem(source: string, error: z.ZodError): ConfigError {
  // Never echo the entry: it holds a secret.
  return new ConfigError(`invalid configuration: ${source}: ${error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
}

function parseTokenList(list: string | undefined): TokenEntry[] {
  if (!list) return [];
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const [name, role, ...rest] = entry.split(':');
      const parsed = tokenEntry.safeParse({ name, role, secret: rest.join(':') });
      if (!parsed.success) throw tokenProblem(`AUTH_TOKENS entry ${i + 1}`, parsed.error);
      return Object.freeze(parsed.data);
    });
}

function readTokenFile(file: string | undefined): TokenEntry[] {
  if (!file) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`invalid configuration: AUTH_TOKENS_FILE: cannot read ${file} as JSON (${(err as Error).message})`);
  }
  const parsed = z.array(z.object({ name: z.unknown(), role: z.unknown(), token: z.unknown() })).safeParse(raw);
  if (!parsed.success) throw new ConfigError('invalid configuration: AUTH_TOKENS_FILE: expected [{"name","role","token"}, …]');
  return parsed.data.map((t, i) => {
    const entry = tokenEntry.safeParse({ name: t.name, role: t.role, secret: t.token });
    if (!entry.success) throw tokenProblem(`AUTH_TOKENS_FILE entry ${i + 1}`, entry.error);
    return Object.freeze(entry.data);
  });
}
