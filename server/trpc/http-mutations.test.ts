import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initTRPC } from '@trpc/server';
import { expect, test } from 'vitest';
import { createHTTPMutationHandler } from './http-mutations.ts';

// What test/http-mutations-conformance.test.ts cannot see through our app's procedures: a
// client that leaves aborts the signal its mutation runs with, as tRPC's handler does.
test('a client that leaves mid-call aborts the mutation’s signal', async () => {
  const t = initTRPC.create();
  const seen = { started: false, aborted: false };
  const router = t.router({
    wait: t.procedure.mutation(
      ({ signal }) =>
        new Promise<string>((resolve) => {
          seen.started = true;
          signal?.addEventListener('abort', () => {
            seen.aborted = true;
            resolve('gone');
          });
        }),
    ),
  });
  const handler = createHTTPMutationHandler({ router, basePath: '/trpc/', createContext: async () => ({}), maxBodySize: 1024, maxBatchSize: 10 });
  const server = createServer((req, res) => {
    if (!handler(req, res)) res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    const leaving = new AbortController();
    const call = fetch(`http://127.0.0.1:${port}/trpc/wait`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
      signal: leaving.signal,
    }).catch(() => 'left');
    await expect.poll(() => seen.started, { timeout: 10_000 }).toBe(true);
    expect(seen.aborted).toBe(false);
    leaving.abort();
    expect(await call).toBe('left');
    await expect.poll(() => seen.aborted, { timeout: 10_000 }).toBe(true);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
