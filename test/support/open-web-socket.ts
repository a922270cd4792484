import WebSocket from 'ws';

/**
 * Opens a WebSocket from `localAddress` (127.0.0.x: a client of its own), with `headers`; the
 * upgrade's status, 101 and the open socket when accepted, else the refusal's status.
 */
export function openWebSocketFrom(url: string, localAddress: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; socket?: WebSocket }>((resolve, reject) => {
    const socket = new WebSocket(url, { localAddress, headers });
    socket.once('open', () => resolve({ status: 101, socket }));
    socket.once('unexpected-response', (_req, res) => {
      res.resume();
      socket.terminate();
      resolve({ status: res.statusCode ?? 0 });
    });
    socket.once('error', reject);
  });
}
