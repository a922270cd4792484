import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { AppRouter } from '../server/routers/app.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { record } from './support/subscriber.ts';

const KEPT = 'kept-writer-0123456789abcdef';
const REVOKED = 'revoked-reader-0123456789abcdef';
const dir = mkdtempSync(path.join(tmpdir(), 'live-orders-tokens-'));
const file = path.join(dir, 'tokens.json');
const writeTokens = (entries: Array<{ name: string; role: string; token: string }>) => writeFileSync(file, JSON.stringify(entries));

let server: TestServer & { close(): Promise<void> };

beforeAll(async () => {
  writeTokens([
    { name: 'kept', role: 'writer', token: KEPT },
    { name: 'leaver', role: 'reader', token: REVOKED },
  ]);
  server = await startTestServer({ AUTH_TOKENS_FILE: file });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const codeOf = (err: unknown) => (err as TRPCClientError<AppRouter>).data?.code;

test('a token removed from AUTH_TOKENS_FILE and reloaded ends its WebSocket and SSE streams UNAUTHORIZED at once; the others go on', async () => {
  const writer = server.client({ token: KEPT });
  await writer.orders.create.mutate({ customerName: 'Before', productName: 'Reload' });
  const revokedWs = server.client({ token: REVOKED });
  const streams = {
    revokedWs: record(revokedWs, { lastEventId: '0' }),
    revokedSse: record(server.client({ token: REVOKED, transport: 'sse' }), { lastEventId: '0' }),
    keptWs: record(server.client({ token: KEPT }), { lastEventId: '0' }),
    keptSse: record(server.client({ token: KEPT, transport: 'sse' }), { lastEventId: '0' }),
  };
  for (const s of Object.values(streams)) await s.waitForCount(1);

  // A bad file changes nothing.
  writeFileSync(file, '{ not json');
  expect(() => server.app.reloadTokens()).toThrow(/AUTH_TOKENS_FILE/);
  expect((await revokedWs.orders.list.query({})).orders.length).toBe(1);

  writeTokens([{ name: 'kept', role: 'writer', token: KEPT }]);
  expect(server.app.reloadTokens()).toEqual({ tokens: 1, revoked: 1 });

  for (const s of [streams.revokedWs, streams.revokedSse]) {
    await expect.poll(() => s.errors.length, { timeout: 5_000 }).toBe(1);
    expect(codeOf(s.errors[0])).toBe('UNAUTHORIZED');
    expect((s.errors[0] as Error).message).toMatch(/token revoked/);
  }
  // Its open WebSocket cannot call either; a new request with it is unknown.
  expect(codeOf(await revokedWs.orders.list.query({}).catch((e: unknown) => e))).toBe('UNAUTHORIZED');
  expect(codeOf(await server.client({ token: REVOKED }).orders.list.query({}).catch((e: unknown) => e))).toBe('UNAUTHORIZED');

  // The kept token's streams were not touched: they get the next change.
  await writer.orders.create.mutate({ customerName: 'After', productName: 'Reload' });
  await streams.keptWs.waitForCount(2);
  await streams.keptSse.waitForCount(2);
  for (const s of Object.values(streams)) s.stop();
});
