/**
 * A bench process holding many WebSocket subscribers (raw `ws`, speaking tRPC's protocol by
 * hand: far cheaper per socket than @trpc/client). It records, per delivery, the order id and
 * the wall-clock time of receipt; the orchestrator later sends the commit (or send) time of
 * each order id, and the latencies are computed here, so only a histogram crosses IPC.
 */
import WebSocket from 'ws';
import { serveCommands } from './child.ts';
import { emptyHistogram, pack, record, type PackedHistogram } from './histogram.ts';
import { now } from './clock.ts';
import { readFrame, subscribeMessage } from './wire.ts';
import { positionOf } from '../shared/resume-id.ts';

export type ConnectArgs = { url: string; sockets: number; lastEventId: string | null; protocol: 'trpc' | 'raw' };
export type ConnectResult = { subscribeSentAt: number; readyAt: number };
export type CollectArgs = {
  expectedPerSocket: number;
  /** [orderId, commit time] pairs; null when only counts and times of receipt matter */
  sentTimes: Array<[number, number]> | null;
  deadlineMs: number;
};
export type CollectResult = {
  deliveries: number;
  /** sockets that got every expected event before the deadline */
  completeSockets: number;
  sockets: number;
  openSockets: number;
  firstReceiveAt: number;
  lastReceiveAt: number;
  latency: PackedHistogram;
  /** deliveries whose position was not above the socket's previous one */
  outOfOrder: number;
  /** deliveries with no known commit time (should be 0) */
  unmatched: number;
  /** late deliveries of an earlier phase, not counted */
  stale: number;
  frameBytes: number;
  errors: string[];
};

/** Deliveries of order ids below `firstKey` belong to an earlier phase that ran late. */
export type BeginArgs = { firstKey: number };
export type StatusResult = { openSockets: number; deliveries: number };

const CONNECT_CONCURRENCY = 200;

type Subscriber = { ws: WebSocket; count: number; last: number; started: boolean };

const subscribers: Subscriber[] = [];
let keys: number[] = [];
let times: number[] = [];
let outOfOrder = 0;
let frameBytesSum = 0;
const errors: string[] = [];
let checkedShape = false;
let firstKey = 0;
let stale = 0;

/** The next phase counts from zero. */
function forget(): void {
  keys = [];
  times = [];
  outOfOrder = 0;
  frameBytesSum = 0;
  stale = 0;
  for (const s of subscribers) s.count = 0;
}

function onFrame(s: Subscriber, raw: Buffer): void {
  const at = now();
  const text = raw.toString();
  const frame = readFrame(text);
  switch (frame.kind) {
    case 'ping':
      s.ws.send('PONG');
      return;
    case 'started':
      s.started = true;
      return;
    case 'other':
      if (errors.length < 5) errors.push(text.slice(0, 300));
      return;
    case 'data':
      if (!checkedShape) {
        // Once per process: prove the string search reads what JSON.parse would.
        checkedShape = true;
        const parsed = JSON.parse(text) as { result: { data: { id: string; data: { orderId: string } } } };
        if (Number(positionOf(parsed.result.data.id)) !== frame.position || Number(parsed.result.data.data.orderId) !== frame.orderId) {
          errors.push(`frame parsed differently than expected: ${text.slice(0, 300)}`);
        }
      }
      if (!(frame.position > s.last)) outOfOrder++;
      s.last = frame.position;
      if (frame.orderId < firstKey) {
        stale++;
        return;
      }
      s.count++;
      keys.push(frame.orderId);
      times.push(at);
      frameBytesSum += raw.length;
  }
}

async function openOne(args: ConnectArgs): Promise<void> {
  const ws = new WebSocket(args.url, { perMessageDeflate: false });
  const s: Subscriber = { ws, count: 0, last: -1, started: args.protocol === 'raw' };
  subscribers.push(s);
  ws.on('message', (data: Buffer) => onFrame(s, data));
  ws.on('error', (err) => {
    if (errors.length < 5) errors.push(String(err));
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  if (args.protocol === 'trpc') ws.send(subscribeMessage(args.lastEventId));
}

async function waitFor(condition: () => boolean, deadlineMs: number): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

serveCommands({
  async connect(args: ConnectArgs): Promise<ConnectResult> {
    const subscribeSentAt = now();
    const queue = Array.from({ length: args.sockets }, (_, i) => i);
    // A bounded number of handshakes at once: the server's accept backlog is finite.
    await Promise.all(
      Array.from({ length: Math.min(CONNECT_CONCURRENCY, args.sockets) }, async () => {
        while (queue.shift() !== undefined) await openOne(args);
      }),
    );
    const ok = await waitFor(() => subscribers.every((s) => s.started) || errors.length > 0, 60_000);
    if (!ok || errors.length > 0) throw new Error(`subscriptions did not start: ${errors.join('; ') || 'timeout'}`);
    return { subscribeSentAt, readyAt: now() };
  },

  begin(args: BeginArgs) {
    // Whatever arrived between phases (a late phase still draining) is not this phase's.
    forget();
    firstKey = args.firstKey;
  },

  pause() {
    // Stop reading: the kernel buffers fill, then the server's socket buffer grows.
    for (const s of subscribers) s.ws.pause();
  },

  resume() {
    for (const s of subscribers) s.ws.resume();
  },

  async collect(args: CollectArgs): Promise<CollectResult> {
    await waitFor(() => subscribers.every((s) => s.count >= args.expectedPerSocket), args.deadlineMs);
    const sent = args.sentTimes ? new Map(args.sentTimes) : null;
    const latency = emptyHistogram();
    let unmatched = 0;
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (let i = 0; i < keys.length; i++) {
      const t = times[i]!;
      if (t < first) first = t;
      if (t > last) last = t;
      if (!sent) continue;
      const sentAt = sent.get(keys[i]!);
      if (sentAt === undefined) unmatched++;
      else record(latency, t - sentAt);
    }
    const result: CollectResult = {
      deliveries: keys.length,
      completeSockets: subscribers.filter((s) => s.count >= args.expectedPerSocket).length,
      sockets: subscribers.length,
      openSockets: subscribers.filter((s) => s.ws.readyState === WebSocket.OPEN).length,
      firstReceiveAt: first,
      lastReceiveAt: last,
      latency: pack(latency),
      outOfOrder,
      unmatched,
      stale,
      frameBytes: keys.length > 0 ? frameBytesSum / keys.length : 0,
      errors: [...errors],
    };
    forget();
    return result;
  },

  status(): StatusResult {
    return { openSockets: subscribers.filter((s) => s.ws.readyState === WebSocket.OPEN).length, deliveries: keys.length };
  },

  async close() {
    for (const s of subscribers) s.ws.terminate();
    subscribers.length = 0;
  },
});
