import { TRPCClientError } from '@trpc/client';
import { asc, gt } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import type postgres from 'postgres';
import { expect, vi } from 'vitest';
import { createLiveOrders, type LiveOrders, type ResyncNotice, type Transport } from 'live-orders-client';
import { eventDigest } from '../../server/db/event-digest.ts';
import { orderEvents } from '../../server/db/schema.ts';
import type { Order, OrderEvent } from '../../shared/orders.ts';
import { positionOf } from '../../shared/resume-id.ts';
import type { Client } from './server.ts';
import { tableRows } from './table-rows.ts';
import { NodeWebSocket } from './node-web-socket.ts';

const byId = (a: Order, b: Order) => Number(a.id) - Number(b.id);
const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);

/**
 * A client written against the raw tRPC API, as a third party would: the snapshot
 * (`orders.list`), then `orders.onChange` from its `resumeId`, each event applied as it comes
 * (no merging by version: a gap or a stale event would show in the copy). On
 * PRECONDITION_FAILED it reloads, as the contract says; every other error is a problem.
 */
export class RawCopy {
  orders = new Map<string, Order>();
  /** The tracked id of the last event applied (or the snapshot's resumeId). */
  lastId: string | null = null;
  /** Since the last snapshot or resume: the tracked ids received, in order. */
  received: string[] = [];
  readonly resyncs: string[] = [];
  readonly problems: string[] = [];
  #unsubscribe = () => {};

  constructor(
    readonly name: string,
    private readonly client: Client,
  ) {}

  get position(): bigint {
    return this.lastId === null ? -1n : BigInt(positionOf(this.lastId));
  }

  async load(): Promise<void> {
    const page = await this.client.orders.list.query({ limit: 1000 });
    expect(page.nextCursor, 'the tests keep under one page of orders').toBeNull();
    this.orders = new Map(page.orders.map((o) => [o.id, o]));
    this.received = [];
    this.resume(page.resumeId);
  }

  /** Subscribes from `from` (a tracked id), applying what comes. */
  resume(from: string): void {
    this.#unsubscribe();
    this.lastId = from;
    this.received = [];
    const sub = this.client.orders.onChange.subscribe(
      { lastEventId: from },
      {
        onData: ({ id, data }) => this.#apply(id, data),
        onError: (err) => {
          if (codeOf(err) === 'PRECONDITION_FAILED') {
            this.resyncs.push(err.message);
            this.load().catch((e: unknown) => this.problems.push(`reload failed: ${String(e)}`));
          } else {
            this.problems.push(`${codeOf(err)}: ${err.message}`);
          }
        },
      },
    );
    this.#unsubscribe = () => sub.unsubscribe();
  }

  stop(): void {
    this.#unsubscribe();
    this.#unsubscribe = () => {};
  }

  #apply(id: string, event: OrderEvent) {
    this.lastId = id;
    this.received.push(id);
    if (event.type === 'deleted') this.orders.delete(event.orderId);
    else this.orders.set(event.orderId, event.order);
  }

  rows(): Order[] {
    return [...this.orders.values()].sort(byId);
  }
}

/** The client library, recording its resyncs. */
export function libraryCopy(url: string, transport: Transport) {
  const live: LiveOrders = createLiveOrders({ url, transport, WebSocket: NodeWebSocket, retryDelayMs: () => 100 });
  const resyncs: ResyncNotice[] = [];
  live.on('resynced', (n) => resyncs.push(n));
  return {
    name: `library over ${transport}`,
    live,
    resyncs,
    get position() {
      return live.lastEventId === null ? -1n : BigInt(live.lastEventId);
    },
    rows: () => [...live.orders.values()].sort(byId),
  };
}

/**
 * Writers through the API, creating, updating and deleting orders now and then; failures
 * (the database away) are counted and retried after a pause. `pause()` holds them.
 */
export function startWriters(client: Client, count: number) {
  let paused = false;
  let stopped = false;
  let failures = 0;
  let ok = 0;
  const ids: string[] = [];
  const loops = Array.from({ length: count }, async (_, w) => {
    for (let n = 0; !stopped; n++) {
      if (paused) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      try {
        if (ids.length < 5 || n % 3 === 0) {
          ids.push((await client.orders.create.mutate({ customerName: `writer ${w}`, productName: `#${n}` })).id);
        } else if (n % 17 === 0) {
          await client.orders.delete.mutate({ id: ids.splice(n % ids.length, 1)[0]! }).catch((err: unknown) => {
            if (codeOf(err) !== 'NOT_FOUND') throw err; // deleted in the other history
          });
        } else {
          const id = ids[n % ids.length]!;
          await client.orders.update.mutate({ id, productName: `#${n}` }).catch((err: unknown) => {
            if (codeOf(err) !== 'NOT_FOUND') throw err;
          });
        }
        ok++;
        await new Promise((r) => setTimeout(r, 5));
      } catch {
        failures++;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  return {
    pause: () => void (paused = true),
    resume: () => void (paused = false),
    get ok() {
      return ok;
    },
    get failures() {
      return failures;
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

export const head = async (sql: postgres.Sql) =>
  BigInt((await sql<[{ head: string }]>`select coalesce(max(id), 0)::text as head from order_events`)[0].head);

/** Waits until every copy has applied the log up to `position`. */
export async function allAt(copies: Array<{ name: string; position: bigint }>, position: bigint, timeout = 20_000): Promise<void> {
  await vi.waitFor(
    () => {
      const behind = copies.filter((c) => c.position < position).map((c) => `${c.name} at ${c.position}`);
      expect(behind, `behind ${position}`).toEqual([]);
    },
    { timeout, interval: 50 },
  );
}

/** Every copy equals the table, read straight from the database. */
export async function expectCopiesEqualTable(sql: postgres.Sql, copies: Array<{ name: string; rows(): Order[] }>): Promise<void> {
  const table = await tableRows(sql);
  for (const c of copies) expect(c.rows(), c.name).toEqual(table);
}

/**
 * A client that resumed (no resync) got exactly the log after the event it resumed from:
 * every position, and every event's digest as the log holds it now.
 */
export async function expectExactlyTheLogAfter(sql: postgres.Sql, copy: RawCopy, from: string): Promise<void> {
  const rows = await drizzle(sql)
    .select({ id: orderEvents.id, digest: eventDigest })
    .from(orderEvents)
    .where(gt(orderEvents.id, BigInt(positionOf(from))))
    .orderBy(asc(orderEvents.id));
  expect(copy.received, copy.name).toEqual(rows.map((r) => `${r.id}.${r.digest}`));
}
