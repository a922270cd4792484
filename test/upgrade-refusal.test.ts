import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { describe, expect, test, vi } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase } from './support/server.ts';

// The server runs as a process of its own: a crash is then a real exit, not an error that
// vitest catches in its own worker.
async function startServerProcess(databaseUrl: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  child.stderr.on('data', (chunk) => lines.push(String(chunk)));
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(`server exited (${code ?? signal}):\n${lines.join('\n')}`)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      const match = /listening on (http:\/\/\S+?)"/.exec(line);
      if (match) resolve(match[1]!);
    });
    void exited.then((why) => reject(new Error(why)));
  });
  return { child, url, exited };
}

/**
 * Asks for a WebSocket upgrade the server refuses, and resets the connection (TCP RST) as
 * soon as the first byte of the refusal arrives: the server is still writing it, or holds the
 * half-closed socket, when the reset lands. Resolves with the refusal's status line.
 */
async function refuseAndReset(url: string, path: string, headers: Record<string, string> = {}): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  await once(socket, 'connect');
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  const [first] = (await once(socket, 'data')) as [Buffer];
  socket.resetAndDestroy();
  await once(socket, 'close');
  return first.toString('latin1').split('\r\n')[0]!;
}

describe('refused WebSocket upgrades', () => {
  test('a connection reset while a refusal is written leaves the server up, for each kind of refusal', async () => {
    const database = await createTestDatabase();
    const server = await startServerProcess(database.url, { MAX_CONNECTIONS_PER_ADDRESS: '1' });
    const isUp = async () => {
      try {
        return (await fetch(`${server.url}/healthz`)).status;
      } catch (err) {
        const still = new Promise<string>((resolve) => setTimeout(resolve, 5_000, 'the process is still running'));
        throw new Error(`/healthz failed (${String(err)}); ${await Promise.race([server.exited, still])}`);
      }
    };
    try {
      // Each refusal several times: one unhandled reset is enough to stop the process.
      for (let i = 0; i < 5; i++) {
        expect(await refuseAndReset(server.url, '/not-trpc')).toBe('HTTP/1.1 404 Not Found');
        expect(await isUp()).toBe(200);
        expect(await refuseAndReset(server.url, '/trpc', { Origin: 'https://evil.example' })).toBe('HTTP/1.1 403 Forbidden');
        expect(await isUp()).toBe(200);
      }

      // Reset as the handshake is accepted (101), while the server's WebSocket takes the socket.
      for (let i = 0; i < 5; i++) {
        expect(await refuseAndReset(server.url, '/trpc')).toBe('HTTP/1.1 101 Switching Protocols');
        expect(await isUp()).toBe(200);
      }

      // Over the per-address limit: one WebSocket is open, the limit is one. The server counts
      // the reset ones above down when it sees them close, so the first may still be refused.
      const open = await vi.waitFor(
        () =>
          new Promise<WebSocket>((resolve, reject) => {
            const ws = new WebSocket(`${server.url.replace('http', 'ws')}/trpc`);
            ws.once('open', () => resolve(ws));
            ws.once('error', reject);
          }),
        { timeout: 10_000, interval: 50 },
      );
      for (let i = 0; i < 5; i++) {
        expect(await refuseAndReset(server.url, '/trpc')).toBe('HTTP/1.1 429 Too Many Requests');
        expect(await isUp()).toBe(200);
      }
      open.close();
      await once(open, 'close');

      expect(server.child.exitCode).toBe(null);
      expect(server.child.signalCode).toBe(null);
    } finally {
      if (server.child.exitCode === null) {
        server.child.kill('SIGTERM');
        await server.exited;
      }
      await database.drop();
    }
  });
});
