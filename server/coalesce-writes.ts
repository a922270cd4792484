import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Outbound } from './trpc/context.ts';

/**
 * How the server writes to its WebSockets: everything written within one turn of the event
 * loop leaves in one write per socket.
 *
 * When the listener publishes a page of events, each subscription sends them one frame at a
 * time, and `ws` writes each frame at once: a profile of a flood to 1,000 subscribers spent
 * 30% of the server's time in writev. Corking a socket on its first write of a turn and
 * uncorking every corked socket after the turn (one setImmediate for all of them) sends the
 * same bytes in one syscall per socket per turn. A lone frame waits for no more than the end
 * of the turn. `bufferedAmount`, which backpressure reads, counts corked bytes too.
 */
const corked = new Set<Socket>();
let scheduled = false;

function uncorkAll(): void {
  scheduled = false;
  for (const socket of corked) if (!socket.destroyed) socket.uncork();
  corked.clear();
}

function corkForThisTurn(socket: Socket): void {
  if (corked.has(socket) || socket.destroyed) return;
  socket.cork();
  corked.add(socket);
  if (!scheduled) {
    scheduled = true;
    setImmediate(uncorkAll);
  }
}

/** How often a writer waiting for 'drain' looks again even without one. */
const DRAIN_CHECK_MS = 250;

// `ws` keeps its net.Socket private; it is there for every server-side WebSocket.
const socketOf = (ws: WebSocket) => (ws as unknown as { _socket?: Socket })._socket;

/** Makes every `ws.send` of this WebSocket coalesce with the rest of its turn's writes. */
export function coalesceWrites(ws: WebSocket): void {
  const socket = socketOf(ws);
  if (!socket) return;
  const send = ws.send.bind(ws) as (...args: unknown[]) => void;
  ws.send = ((...args: unknown[]) => {
    corkForThisTurn(socket);
    send(...args);
  }) as WebSocket['send'];
}

/**
 * What a subscription writes to: the WebSocket's backpressure, and a way to write a frame
 * that is already framed (header included, see event-frames.ts) straight to the TCP socket.
 * That skips `ws`'s framing per send, which is safe because the server does not compress
 * (so `ws` never holds frames back) and each write is a whole frame.
 */
export function outbound(ws: WebSocket): Outbound {
  const socket = socketOf(ws);
  return {
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    get readyState() {
      return ws.readyState;
    },
    writeFrame(frame: Buffer) {
      if (!socket || ws.readyState !== ws.OPEN) return;
      corkForThisTurn(socket);
      socket.write(frame);
    },
    drained(signal: AbortSignal) {
      return new Promise<void>((resolve) => {
        if (!socket || socket.destroyed || signal.aborted || socket.writableLength === 0) return resolve();
        // 'drain' comes once a write that passed the high-water mark has been flushed: any
        // buffer over the backpressure limit has had one. The timer is a safety net only.
        const done = () => {
          clearTimeout(timer);
          socket.off('drain', done);
          socket.off('close', done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, DRAIN_CHECK_MS);
        socket.on('drain', done);
        socket.on('close', done);
        signal.addEventListener('abort', done);
      });
    },
  };
}
