import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createTRPCClient, createWSClient, TRPCClientError, wsLink } from '@trpc/client';
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import type { AppRouter } from '../../server/routers/app.ts';
import { startIdentityProvider, type IdentityProvider } from '../support/identity-provider.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { record } from '../support/subscriber.ts';
import { liveStatus, openWatchedPage, row, useBrowser } from './browser.ts';
import { asDomWebSocket } from '../support/node-web-socket.ts';

const AUDIENCE = 'https://orders.example/api';
const STATIC_WRITER = 'static-writer-0123456789abcdef';
const SESSION_TTL_S = 6;

/** Every line the server logged, to prove no cookie or authorization code is among them. */
const logLines: string[] = [];
let idp: IdentityProvider;
let server: TestServer & { close(): Promise<void> };
const browser = useBrowser();

/** A port nobody uses now: the provider must know the page's address (its redirect URI) before the server starts. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  idp = await startIdentityProvider({
    audience: AUDIENCE,
    accounts: [
      { login: 'ada', email: 'ada@shop.test', roles: ['writer'] },
      { login: 'rita', email: 'rita@shop.test', roles: ['reader'] },
    ],
    services: [],
    web: { clientId: 'live-orders-page', clientSecret: 'page-secret-0123456789abcdef', publicUrl },
  });
  server = await startTestServer({
    PORT: String(port),
    AUTH_TOKENS: `ops:writer:${STATIC_WRITER}`,
    AUTH_JWT_ISSUER: idp.issuer,
    AUTH_JWT_AUDIENCE: AUDIENCE,
    AUTH_OIDC_CLIENT_ID: 'live-orders-page',
    AUTH_OIDC_CLIENT_SECRET: 'page-secret-0123456789abcdef',
    AUTH_OIDC_SCOPES: 'openid email profile roles offline_access',
    AUTH_OIDC_PROVIDER_NAME: 'Shop ID',
    PUBLIC_URL: publicUrl,
    // Short, so that the page's refreshes (through the provider's refresh token) are seen to work.
    AUTH_SESSION_TTL: `${SESSION_TTL_S}s`,
  }, pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) })));
});

afterAll(async () => {
  await server?.close();
  await idp?.close();
});

/** A tRPC client over a WebSocket that carries `cookie`, as a browser's upgrade does. */
function cookieClient(cookie: string) {
  class WithCookie extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers: { cookie, origin: server.url } });
    }
  }
  const ws = createWSClient({ url: `${server.url.replace('http', 'ws')}/trpc`, WebSocket: asDomWebSocket(WithCookie), retryDelayMs: () => 100 });
  return { api: createTRPCClient<AppRouter>({ links: [wsLink({ client: ws })] }), close: () => ws.close() };
}

test('a person signs in through the page with the provider, sees orders live, creates one as themselves, and signs out', async () => {
  const { context, page, cspViolations } = await openWatchedPage(browser());
  await page.goto(server.url);

  // The page offers the provider, beside the token form.
  await page.getByTestId('sign-in-provider').filter({ hasText: 'Sign in with Shop ID' }).click();

  // The provider's own login and consent pages.
  await page.waitForURL((url) => url.href.startsWith(idp.issuer));
  await page.locator('input[name="login"]').fill('ada');
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').click();
  await page.getByRole('button', { name: 'Continue' }).click();

  // Back on the page, signed in, live.
  await page.waitForURL((url) => url.href.startsWith(server.url));
  await liveStatus(page).waitFor();
  await page.getByTestId('signed-in-as').filter({ hasText: 'ada@shop.test' }).waitFor();

  // The session is an HttpOnly, SameSite cookie: the page's JavaScript never sees it.
  const cookies = await context.cookies(server.url);
  const session = cookies.find((c) => c.name === 'live_orders_session');
  expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
  expect(await page.evaluate(() => document.cookie)).not.toContain(session!.value);
  expect(await page.evaluate(() => JSON.stringify({ ...sessionStorage, ...localStorage }))).not.toContain(session!.value);
  const cookie = `live_orders_session=${session!.value}`;

  // Orders live: one written through SQL appears.
  const [fromSql] = await server.sql<{ id: string }[]>`insert into orders (customer_name, product_name) values ('From SQL', 'Live') returning id::text`;
  await row(page, fromSql!.id).waitFor();

  // A change from the page: its event's actor is the person.
  await page.locator('#create-customerName').fill('Signed');
  await page.locator('#create-productName').fill('In person');
  await page.getByRole('button', { name: 'Create order' }).click();
  await expect.poll(async () => (await server.logAfter('0')).find((e) => e.order?.customerName === 'Signed')?.actor, { timeout: 10_000 }).toBe('ada@shop.test');

  // The same cookie from another site cannot change anything (CSRF): refused, nothing written.
  const before = (await server.logAfter('0')).length;
  for (const origin of ['http://evil.example', undefined]) {
    const headers = { cookie, 'content-type': 'application/json', ...(origin ? { origin } : {}) };
    const trpc = await fetch(`${server.url}/trpc/orders.create`, { method: 'POST', headers, body: JSON.stringify({ customerName: 'x', productName: 'y' }) });
    expect(trpc.status).toBe(403);
    const rest = await fetch(`${server.url}/api/orders`, { method: 'POST', headers, body: JSON.stringify({ customer_name: 'x', product_name: 'y' }) });
    expect(rest.status).toBe(403);
  }
  // A WebSocket from another site is refused at the upgrade, cookie or not.
  const foreign = new WebSocket(`${server.url.replace('http', 'ws')}/trpc`, { headers: { cookie, origin: 'http://evil.example' } });
  const refusal = await new Promise<number>((resolve) => foreign.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)).on('error', () => {}));
  expect(refusal).toBe(403);
  expect((await server.logAfter('0')).length).toBe(before);

  // A stream opened with the session (the cookie on the upgrade, as the page's own is).
  const other = cookieClient(cookie);
  const stream = record(other.api, { lastEventId: '0' });
  await stream.waitForCount(before);

  // Sign out: the page asks for sign-in again, the session's streams end UNAUTHORIZED, the cookie is dead.
  await page.getByTestId('sign-out').click();
  await page.getByTestId('sign-in-provider').waitFor();
  await expect.poll(() => stream.errors.length, { timeout: 5_000 }).toBe(1);
  expect((stream.errors[0] as TRPCClientError<AppRouter>).data?.code).toBe('UNAUTHORIZED');
  expect((stream.errors[0] as Error).message).toMatch(/signed out/);
  expect((await fetch(`${server.url}/api/orders`, { headers: { cookie } })).status).toBe(401);
  expect((await context.cookies(server.url)).find((c) => c.name === 'live_orders_session')).toBeUndefined();
  await other.close();

  expect(await cspViolations()).toEqual([]);
  await context.close();

  // The logs name who signed in and out, and hold neither the cookie nor the code.
  const logs = logLines.join('');
  expect(logs).toContain('"msg":"signed in"');
  expect(logs).toContain('/auth/callback');
  expect(logs).not.toContain(session!.value);
  expect(logs).not.toMatch(/code=|state=/);
});

test('a person with the reader role watches and cannot change; the page refreshes the session before it ends, and the stream lives on', async () => {
  const { context, page } = await openWatchedPage(browser());
  await page.goto(server.url);
  await page.getByTestId('sign-in-provider').click();
  await page.waitForURL((url) => url.href.startsWith(idp.issuer));
  await page.locator('input[name="login"]').fill('rita');
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await liveStatus(page).waitFor();
  await page.getByTestId('signed-in-as').filter({ hasText: 'rita@shop.test' }).waitFor();
  const before = (await server.logAfter('0')).length;
  await page.locator('#create-customerName').fill('Reader');
  await page.locator('#create-productName').fill('Tries');
  await page.getByRole('button', { name: 'Create order' }).click();
  await page.getByText('can read but not change').first().waitFor();
  expect((await server.logAfter('0')).length).toBe(before);

  // Past the session's first end: the page refreshed it (the server asked the provider), and
  // the stream it opened at sign-in is still live.
  const sessionEnd = () => page.evaluate(async () => ((await (await fetch('/auth/session')).json()) as { session: { expiresAt: string } | null }).session?.expiresAt ?? null);
  const firstEnd = Date.parse((await sessionEnd())!);
  await expect.poll(() => Date.now(), { timeout: 2 * SESSION_TTL_S * 1000, interval: 250 }).toBeGreaterThan(firstEnd + 1_000);
  expect(Date.parse((await sessionEnd())!)).toBeGreaterThan(firstEnd);
  const [later] = await server.sql<{ id: string }[]>`insert into orders (customer_name, product_name) values ('After', 'Refresh') returning id::text`;
  await row(page, later!.id).waitFor();
  await liveStatus(page).waitFor();
  await context.close();
});
