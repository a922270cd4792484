/**
 * A bench process that writes orders, through the API or straight into PostgreSQL, with a
 * fixed number of calls in flight. Four of these run at once; they start together at a
 * wall-clock instant the orchestrator chooses, so their windows line up.
 */
import { createTRPCClient, httpBatchLink, type TRPCClient } from '@trpc/client';
import postgres from 'postgres';
import type { AppRouter } from '../server/routers/app.ts';
import { serveCommands } from './child.ts';
import { now } from './clock.ts';
import { emptyHistogram, pack, record, type PackedHistogram } from './histogram.ts';

export type WriteMode =
  | { kind: 'trpc-create'; url: string }
  | { kind: 'trpc-create-many'; url: string }
  | { kind: 'sql-insert'; databaseUrl: string; table: string }
  | { kind: 'sql-insert-many'; databaseUrl: string; table: string }
  /** the seed's REST create (bench/seed-server.ts): a POST of snake_case JSON */
  | { kind: 'http-post'; url: string };

export type PrepareArgs = { mode: WriteMode; concurrency: number };
/** Runs until `seconds` after `startAt`, or for `calls` calls per worker when given. */
export type RunArgs = { startAt: number; seconds: number; calls?: number };
export type RunResult = { orders: number; calls: number; finishedAt: number; latency: PackedHistogram; errors: string[] };

export const ORDERS_PER_MANY = 1_000;

let call: (() => Promise<number>) | undefined;
let concurrency = 1;
let sql: postgres.Sql | undefined;

const order = (i: number) => ({ customerName: `Customer ${i}`, productName: `Product ${i % 97}` });
let made = 0;

function makeCall(mode: WriteMode): () => Promise<number> {
  switch (mode.kind) {
    case 'trpc-create': {
      // Calls made in the same tick share one HTTP request, as any app's would.
      const client: TRPCClient<AppRouter> = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${mode.url}/trpc` })] });
      return async () => {
        await client.orders.create.mutate(order(made++));
        return 1;
      };
    }
    case 'trpc-create-many': {
      const client: TRPCClient<AppRouter> = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${mode.url}/trpc` })] });
      return async () => {
        const orders = await client.orders.createMany.mutate({ orders: Array.from({ length: ORDERS_PER_MANY }, () => order(made++)) });
        return orders.length;
      };
    }
    case 'sql-insert': {
      const db = sql!;
      // One autocommit statement per order: the least a direct client can do per row.
      return async () => {
        const o = order(made++);
        await db`insert into ${db(mode.table)} (customer_name, product_name) values (${o.customerName}, ${o.productName}) returning *`;
        return 1;
      };
    }
    case 'http-post': {
      return async () => {
        const o = order(made++);
        const res = await fetch(`${mode.url}/api/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ customer_name: o.customerName, product_name: o.productName }),
        });
        await res.arrayBuffer();
        if (res.status !== 201) throw new Error(`POST /api/orders: ${res.status}`);
        return 1;
      };
    }
    case 'sql-insert-many': {
      const db = sql!;
      return async () => {
        const rows = Array.from({ length: ORDERS_PER_MANY }, () => {
          const o = order(made++);
          return { customer_name: o.customerName, product_name: o.productName };
        });
        const inserted = await db`insert into ${db(mode.table)} ${db(rows)} returning *`;
        return inserted.length;
      };
    }
  }
}

serveCommands({
  async prepare(args: PrepareArgs) {
    // One process serves every mode in turn; the previous mode's connections go first.
    await sql?.end({ timeout: 1 });
    sql = undefined;
    concurrency = args.concurrency;
    if (args.mode.kind === 'sql-insert' || args.mode.kind === 'sql-insert-many') {
      sql = postgres(args.mode.databaseUrl, { max: args.concurrency, onnotice: () => {} });
    }
    call = makeCall(args.mode);
    // One call first, so connections, JIT and plans are warm when the clock starts.
    await call();
  },

  async run(args: RunArgs): Promise<RunResult> {
    const fn = call!;
    const latency = emptyHistogram();
    const errors: string[] = [];
    let orders = 0;
    let calls = 0;
    const wait = args.startAt - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const end = args.startAt + args.seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let n = 0; args.calls === undefined ? now() < end : n < args.calls; n++) {
          const started = now();
          try {
            // Not `orders += await fn()`: that reads `orders` before the await, and the 8
            // concurrent loops of a process would overwrite each other's counts.
            const made = await fn();
            orders += made;
            calls++;
            record(latency, now() - started);
          } catch (err) {
            if (errors.length < 5) errors.push(String(err));
          }
        }
      }),
    );
    return { orders, calls, finishedAt: now(), latency: pack(latency), errors };
  },

  async close() {
    await sql?.end({ timeout: 1 });
  },
});
