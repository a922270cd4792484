/**
 * The fan-out baseline: a bare `ws` server on loopback that broadcasts frames shaped and
 * sized like our tRPC events (see wire.ts) to every connected socket, with no database, no
 * tRPC and no per-subscriber work beyond `send`. Each frame is built once and its Buffer sent
 * to every socket, the cheapest a Node fan-out can be. In a flood, each socket is corked for
 * the burst, so a burst leaves in one write per socket rather than one per frame (what our
 * server does per event-loop turn; without it, the baseline measures syscalls, not the
 * machine). In a flood it is handed the events at the pace our commits had (`releaseAtMs`),
 * and measured once more with all of them at once. The same subscriber processes measure it
 * as measure us.
 */
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { serveCommands } from './child.ts';
import { now } from './clock.ts';
import { baselineFrame } from './wire.ts';

export type BroadcastArgs = {
  count: number;
  /** frames per second; 0 sends as fast as the sockets drain */
  rate: number;
  frameBytes: number;
  firstSeq: number;
  /**
   * With rate 0: the earliest each frame may go, in ms after the first. A flood of ours
   * reaches our server one commit at a time, so the baseline is handed the same flood at the
   * same pace (the commits' times) and the two compare fan-out, not fan-out against a
   * database's writes. Absent: every frame at once.
   */
  releaseAtMs?: number[];
};
export type BroadcastResult = { sentTimes: Array<[number, number]> };

// In flood mode, a burst per event-loop turn, then wait while any socket holds this much
// unsent data: the baseline may not win by buffering without bound.
const FLOOD_BURST = 50;
const MAX_BUFFERED_BYTES = 4 * 2 ** 20;

let wss: WebSocketServer | undefined;

// Text frames, as tRPC's messages are (ours are sent so too): `ws` sends a Buffer as binary
// unless told, and a subscriber checks a text frame's UTF-8 where it skips a binary one's.
const TEXT = { binary: false } as const;

function sendToAll(clients: Set<WebSocket>, frame: Buffer): void {
  for (const ws of clients) ws.send(frame, TEXT);
}

// Each WebSocket's net.Socket, from its upgrade request (`ws` keeps its own reference private).
const sockets = new WeakMap<WebSocket, Socket>();
const socketOf = (ws: WebSocket) => sockets.get(ws)!;
const corkAll = (clients: Set<WebSocket>) => clients.forEach((ws) => socketOf(ws).cork());
const uncorkAll = (clients: Set<WebSocket>) =>
  clients.forEach((ws) => {
    const socket = socketOf(ws);
    while (socket.writableCorked > 0) socket.uncork();
  });

const tick = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

serveCommands({
  async listen(): Promise<{ url: string }> {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, backlog: 1024 });
    wss.on('connection', (ws, req) => sockets.set(ws, req.socket));
    await new Promise<void>((resolve) => wss!.once('listening', () => resolve()));
    return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` };
  },

  async broadcast(args: BroadcastArgs): Promise<BroadcastResult> {
    const clients = wss!.clients;
    const sentTimes: Array<[number, number]> = [];
    const start = now();
    for (let i = 0; i < args.count; i++) {
      const seq = args.firstSeq + i;
      if (args.rate > 0) {
        // Absolute schedule, so a late tick does not shift every later one.
        const due = start + (i * 1000) / args.rate;
        const wait = due - now();
        if (wait > 0) await sleep(wait);
      } else {
        const due = start + (args.releaseAtMs?.[i] ?? 0);
        if (i % FLOOD_BURST === 0 || due > now()) {
          uncorkAll(clients);
          await tick();
          // Not due yet: what was sent goes out meanwhile (as ours between two commits).
          if (due > now()) await sleep(due - now());
          while ([...clients].some((ws) => ws.bufferedAmount > MAX_BUFFERED_BYTES)) await sleep(1);
          corkAll(clients);
        }
      }
      const frame = Buffer.from(baselineFrame(seq, args.frameBytes));
      sentTimes.push([seq, now()]);
      sendToAll(clients, frame);
    }
    uncorkAll(clients);
    return { sentTimes };
  },

  async close() {
    for (const ws of wss?.clients ?? []) ws.terminate();
    await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
  },
});
