import { startChild, type BenchChild } from './child.ts';
import { merge, summarize, unpack, emptyHistogram, type LatencySummary } from './histogram.ts';
import type { CollectResult, ConnectArgs, ConnectResult, StatusResult } from './subscriber-client.ts';
import type { SentTimes } from './sql-writer.ts';

export type PhaseResult = {
  events: number;
  subscribers: number;
  deliveries: number;
  expectedDeliveries: number;
  completeSubscribers: number;
  /** deliveries / (last receipt - first commit) */
  deliveriesPerSecond: number;
  seconds: number;
  latency: LatencySummary;
  outOfOrder: number;
  unmatched: number;
  stale: number;
  frameBytes: number;
  errors: string[];
};

/**
 * Subscribers split across several client processes: their CPU is theirs, not the server's,
 * and no process needs more file descriptors than `ulimit -n` gives it.
 */
export class SubscriberGroup {
  readonly #children: BenchChild[];
  readonly #counts: number[];

  constructor(readonly total: number, processes: number) {
    const n = Math.max(1, Math.min(processes, total));
    this.#counts = Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));
    this.#children = this.#counts.map(() => startChild('./subscriber-client.ts'));
  }

  async connect(args: Omit<ConnectArgs, 'sockets'>): Promise<ConnectResult> {
    const results = await Promise.all(
      this.#children.map((c, i) => c.call<ConnectResult>('connect', { ...args, sockets: this.#counts[i]! } satisfies ConnectArgs)),
    );
    return {
      subscribeSentAt: Math.min(...results.map((r) => r.subscribeSentAt)),
      readyAt: Math.max(...results.map((r) => r.readyAt)),
    };
  }

  /** Starts a phase whose order ids (or baseline sequence numbers) begin at `firstKey`. */
  async begin(firstKey: number): Promise<void> {
    await Promise.all(this.#children.map((c) => c.call('begin', { firstKey })));
  }

  async pause(): Promise<void> {
    await Promise.all(this.#children.map((c) => c.call('pause')));
  }

  async resume(): Promise<void> {
    await Promise.all(this.#children.map((c) => c.call('resume')));
  }

  /** Waits for `events` deliveries on every socket (or the deadline) and merges the figures. */
  async collect(events: number, sent: SentTimes | null, deadlineMs: number, startedAt?: number): Promise<PhaseResult> {
    const raw = await Promise.all(
      this.#children.map((c) =>
        c.call<CollectResult>('collect', { expectedPerSocket: events, sentTimes: sent, deadlineMs }, deadlineMs + 60_000),
      ),
    );
    const latency = emptyHistogram();
    for (const r of raw) merge(latency, unpack(r.latency));
    const deliveries = raw.reduce((a, r) => a + r.deliveries, 0);
    const first = startedAt ?? Math.min(...(sent ?? []).map(([, t]) => t), ...raw.map((r) => r.firstReceiveAt));
    const last = Math.max(...raw.map((r) => r.lastReceiveAt));
    const seconds = (last - first) / 1000;
    return {
      events,
      subscribers: this.total,
      deliveries,
      expectedDeliveries: events * this.total,
      completeSubscribers: raw.reduce((a, r) => a + r.completeSockets, 0),
      deliveriesPerSecond: seconds > 0 ? deliveries / seconds : Number.NaN,
      seconds,
      latency: summarize(latency),
      outOfOrder: raw.reduce((a, r) => a + r.outOfOrder, 0),
      unmatched: raw.reduce((a, r) => a + r.unmatched, 0),
      stale: raw.reduce((a, r) => a + r.stale, 0),
      frameBytes: deliveries > 0 ? raw.reduce((a, r) => a + r.frameBytes * r.deliveries, 0) / deliveries : 0,
      errors: raw.flatMap((r) => r.errors),
    };
  }

  /** Sockets still open and deliveries so far, without ending the phase. */
  async status(): Promise<StatusResult> {
    const all = await Promise.all(this.#children.map((c) => c.call<StatusResult>('status')));
    return { openSockets: all.reduce((a, s) => a + s.openSockets, 0), deliveries: all.reduce((a, s) => a + s.deliveries, 0) };
  }

  async close(): Promise<void> {
    await Promise.all(this.#children.map(async (c) => {
      await c.call('close').catch(() => {});
      await c.stop();
    }));
  }
}
