import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { WebSocketServer } from 'ws';
import { textFrame } from './text-frame.ts';

let wss: WebSocketServer | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
  wss = undefined;
});

// Each length encoding of RFC 6455 (7 bits, 16 bits, 64 bits) at its edges.
const SIZES = [1, 125, 126, 65_535, 65_536, 70_000];

test('a frame made once is byte for byte what ws.send writes for the same text on a server socket', async () => {
  const payloads = SIZES.map((n) => Buffer.from(randomBytes(n).toString('base64').slice(0, n)));
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    for (const p of payloads) ws.send(p, { binary: false });
  });
  await once(wss, 'listening');

  // A bare TCP client, so the bytes are read off the wire as the server wrote them.
  const socket = connect((wss.address() as AddressInfo).port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const expected = Buffer.concat(payloads.map(textFrame));
  let received = Buffer.alloc(0);
  let headEnd = -1;
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    if (headEnd < 0) headEnd = received.indexOf('\r\n\r\n');
  });
  await expect.poll(() => (headEnd < 0 ? 0 : received.length - headEnd - 4), { timeout: 10_000 }).toBeGreaterThanOrEqual(expected.length);
  socket.destroy();

  expect(received.subarray(0, headEnd).toString()).toContain('101 Switching Protocols');
  expect(received.subarray(headEnd + 4).equals(expected)).toBe(true);
});
