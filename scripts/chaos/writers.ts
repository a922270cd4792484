import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import postgres from 'postgres';
import type { AppRouter } from '../../server/routers/app.ts';
import { sleep } from '../../server/retry.ts';
import { ORDER_STATUSES } from '../../shared/order-status.ts';
import type { Random } from './random.ts';

export type WriteCounts = {
  api: number;
  sql: number;
  rolledBack: number;
  longTransactions: number;
  /** attempts that failed (database down, node down, order already deleted, …) */
  failed: number;
  /**
   * attempts whose outcome the writer does not know: the server said "commit outcome
   * unknown", or no answer came within CLIENT_TIMEOUT_MS (both should be rare)
   */
  inDoubt: number;
};

/**
 * How long an API writer waits for an answer. Longer than anything the system itself waits
 * (HAProxy's queue and server timeouts, the server's bound on settling a commit in doubt):
 * a writer that gave up sooner would leave a request in flight that may still commit after
 * the harness has read the log, and the run would count its event as one nobody wrote.
 */
const CLIENT_TIMEOUT_MS = 90_000;

type Ids = { known: string[] };

/**
 * Writers of every kind the issue names, running until `signal` aborts. Failures are
 * expected while faults are injected; they are counted, not judged: the checks compare what
 * was committed (the log) with what was delivered and with the table.
 */
export function startWriters(opts: {
  nodeUrls: string[];
  databaseUrl: string;
  random: Random;
  signal: AbortSignal;
  /** orders every filtered subscriber watches; writers update them often */
  watchedIds: string[];
}) {
  const counts: WriteCounts = { api: 0, sql: 0, rolledBack: 0, longTransactions: 0, failed: 0, inDoubt: 0 };
  const ids: Ids = { known: [...opts.watchedIds] };
  const { random, signal } = opts;
  const clients = opts.nodeUrls.map((url) =>
    createTRPCClient<AppRouter>({ links: [httpLink({ url: `${url}/trpc`, fetch: (u, init) => fetch(u, { ...init, signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) }) })] }),
  );
  const sql = postgres(opts.databaseUrl, { max: 4, connect_timeout: 2, onnotice: () => {} });

  const attempt = async (kind: keyof Omit<WriteCounts, 'failed' | 'inDoubt'>, write: () => Promise<unknown>) => {
    try {
      await write();
      counts[kind]++;
    } catch (err) {
      counts.failed++;
      if (isInDoubt(err)) counts.inDoubt++;
      await sleep(20 + random.int(80), signal); // do not spin while a node or the database is away
    }
  };

  const pickId = () => ids.known[random.int(ids.known.length)]!;
  const status = () => random.pick(ORDER_STATUSES);

  const apiWriter = async () => {
    while (!signal.aborted) {
      const client = random.pick(clients);
      const roll = random.int(10);
      if (roll < 3 || ids.known.length < 5) {
        await attempt('api', async () => {
          const order = await client.orders.create.mutate({ customerName: `api ${random.int(1e6)}`, productName: 'chaos' });
          ids.known.push(order.id);
        });
      } else if (roll < 9) {
        const id = random.int(3) === 0 ? random.pick(opts.watchedIds) : pickId();
        await attempt('api', () => client.orders.update.mutate({ id, status: status() }));
      } else {
        const id = pickId();
        if (opts.watchedIds.includes(id)) continue;
        await attempt('api', () => client.orders.delete.mutate({ id }));
      }
    }
  };

  const sqlWriter = async () => {
    while (!signal.aborted) {
      const roll = random.int(6);
      if (roll === 0) {
        await attempt('sql', async () => {
          const [row] = await sql<{ id: string }[]>`insert into orders (customer_name, product_name) values ('sql', 'chaos') returning id`;
          ids.known.push(row!.id);
        });
      } else if (roll === 1) {
        await attempt('sql', () => sql`delete from orders where id = (select id from orders where customer_name = 'sql' order by random() limit 1)`);
      } else {
        await attempt('sql', () => sql`update orders set status = ${status()}, product_name = ${`sql ${random.int(1e6)}`} where id = ${pickId()}`);
      }
      await sleep(random.int(10), signal);
    }
  };

  const rollbackWriter = async () => {
    while (!signal.aborted) {
      await attempt('rolledBack', () =>
        sql
          .begin(async (tx) => {
            await tx`insert into orders (customer_name, product_name) values ('rolled back', 'never seen')`;
            await tx`update orders set status = 'cancelled' where id = ${pickId()}`;
            throw new RollBack();
          })
          .catch((err: unknown) => {
            if (!(err instanceof RollBack)) throw err;
          }),
      );
      await sleep(20 + random.int(50), signal);
    }
  };

  // Takes its row early and commits late, while other writers commit around it.
  const longWriter = async () => {
    while (!signal.aborted) {
      await attempt('longTransactions', () =>
        sql.begin(async (tx) => {
          const [row] = await tx<{ id: string }[]>`insert into orders (customer_name, product_name) values ('long', 'transaction') returning id`;
          // Now and then take the position at once and commit late (holding up other commits
          // meanwhile); otherwise the position is taken at commit, after a long wait.
          if (random.int(3) === 0) await tx`set constraints all immediate`;
          await tx`select pg_sleep(${(50 + random.int(250)) / 1000})`;
          await tx`update orders set status = 'confirmed' where id = ${row!.id}`;
          ids.known.push(row!.id);
        }),
      );
    }
  };

  const running = Promise.all([apiWriter(), apiWriter(), sqlWriter(), rollbackWriter(), longWriter()]).finally(() =>
    sql.end({ timeout: 1 }),
  );
  return { counts, done: running };
}

class RollBack extends Error {}

function isInDoubt(err: unknown): boolean {
  if (err instanceof TRPCClientError && err.message.startsWith('commit outcome unknown')) return true;
  for (let e = err, depth = 0; e && depth < 4; depth++) {
    if (e instanceof Error && e.name === 'TimeoutError') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
