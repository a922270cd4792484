import { createHash } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { DEFAULT_ORDER_STATUS, type OrderStatus } from '../../shared/order-status.ts';
import type { CreateOrderInput, Order, UpdateOrderInput } from '../../shared/orders.ts';
import type { Database, Executor, Transaction } from './client.ts';
import { askWithin, findCommitOutcome } from './commit-outcome.ts';
import { CommitOutcomeUnknownError, DatabaseUnavailableError, isDatabaseUnavailable } from './errors.ts';
import { lastKnownOrder } from './events.ts';
import { inLogSnapshot } from './log-snapshot.ts';
import { idempotencyKeys, orders, type OrderRow } from './schema.ts';

export function toOrder(row: OrderRow): Order {
  return {
    id: row.id.toString(),
    customerName: row.customerName,
    productName: row.productName,
    status: row.status,
    version: row.version,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function notFound(id: string, cause?: unknown): TRPCError {
  return new TRPCError({ code: 'NOT_FOUND', message: `order ${id} not found`, cause });
}

/**
 * Runs `fn` in a transaction whose events name `actor`. The trigger reads the setting at
 * commit; `set_config(..., true)` scopes it to this transaction only.
 *
 * The same statement notes the transaction's id, so that a connection broken after COMMIT
 * was sent can be settled (commit-outcome.ts): `fn` has run by then, so its result is what
 * the commit made, and it is the answer if the transaction committed.
 */
export async function writeAs<T>(db: Database, actor: string, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  let xid: string | undefined;
  let committing: { result: T } | undefined;
  try {
    return await db.transaction(async (tx) => {
      const [noted] = await tx.execute<{ xid: string }>(
        sql`select set_config('live_orders.actor', ${actor}, true), pg_current_xact_id()::text as xid`,
      );
      xid = noted!.xid;
      const result = await fn(tx);
      // postgres.js sends COMMIT as soon as this returns: from here on a broken connection
      // leaves the outcome in doubt.
      committing = { result };
      return result;
    });
  } catch (err) {
    if (!committing || xid === undefined || !isDatabaseUnavailable(err)) throw err;
    const outcome = await findCommitOutcome(db.$client, xid);
    if (outcome === 'committed') return committing.result;
    throw outcome === 'aborted' ? new DatabaseUnavailableError(err) : new CommitOutcomeUnknownError(err);
  }
}

/**
 * Creates orders as `actor`: see `createOrders`. Without idempotency keys that is a single
 * INSERT in a transaction of its own, sent with its BEGIN, its settings and its COMMIT at
 * once (`insertOrdersAs`). The actor is set before any row is inserted, and so is
 * `live_orders.append`: being the transaction's only write, the statement may have its events
 * appended by one statement-level trigger instead of a row trigger per order
 * (drizzle/0002_bulk_insert_events.sql).
 */
export async function createOrdersAs(db: Database, actor: string, inputs: CreateOrderInput[]): Promise<Order[]> {
  if (inputs.some((i) => i.idempotencyKey !== undefined)) return writeAs(db, actor, (tx) => createOrders(tx, inputs));
  const created = await insertOrdersAs(db.$client, actor, inputs);
  if (created.length !== inputs.length) throw new Error(`inserted ${created.length} orders, expected ${inputs.length}`);
  // Identities are drawn in insertion order; RETURNING's row order is not promised.
  return created.sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)));
}

/**
 * BEGIN, the settings (noting the transaction's id and where the order ids stand), the
 * INSERT and COMMIT, written together on one connection: postgres.js pipelines them, so on
 * a direct connection this is one round trip, as a lone INSERT was. (Through a transaction
 * pooler postgres.js does not pipeline, and they go one after another.) A lone INSERT could
 * not be settled if its connection broke: its transaction id would come with its answer.
 *
 * PostgreSQL answers each of them as soon as it has run it, so the id is known before the
 * INSERT can wait at the log's position lock. If the connection then breaks, the outcome is
 * asked for (commit-outcome.ts), and a committed insert whose rows never arrived is read
 * back from its 'created' events: the rows as inserted, whatever happened to them since.
 */
async function insertOrdersAs(client: postgres.Sql, actor: string, inputs: CreateOrderInput[]): Promise<Order[]> {
  const tx = await client.reserve();
  const begin = tx`begin`.execute();
  const noted = tx<[{ xid: string; before: string }]>`
    select set_config('live_orders.actor', ${actor}, true), set_config('live_orders.append', 'per_statement', true),
           pg_current_xact_id()::text as xid,
           (select case when is_called then last_value else last_value - 1 end from orders_id_seq)::text as before`.execute();
  const insert = tx<{ order: Order }[]>`
    insert into orders (customer_name, product_name, status)
    select t.customer_name, t.product_name, t.status
      from unnest(${inputs.map((i) => i.customerName)}::text[],
                  ${inputs.map((i) => i.productName)}::text[],
                  ${inputs.map((i) => i.status ?? DEFAULT_ORDER_STATUS)}::order_status[])
             with ordinality as t(customer_name, product_name, status, n)
     order by t.n
    returning order_json(orders) as "order"`.execute();
  const commit = tx`commit`.execute();
  const began = settled(begin);
  const note = settled(noted);
  const inserted = settled(insert);
  const committed = settled(commit);

  // postgres.js writes a query with parameters that this connection has not prepared yet only
  // once the one before it is answered, and when the connection breaks it fails the queries it
  // has written and forgets the others (they never settle). So wait for all, or for a break.
  const broke = await Promise.race([
    Promise.all([begin, noted, insert, commit].map((q) => q.then(noop, noop))).then(() => false),
    new Promise<boolean>((resolve) => {
      for (const q of [begin, noted, insert, commit]) q.catch((err: unknown) => isDatabaseUnavailable(err) && resolve(true));
    }),
  ]);
  if (!broke) {
    tx.release();
    if (inserted.value && committed.value) return inserted.value.map((r) => r.order);
    throw [began, note, inserted, committed].find((r) => r.error !== undefined)!.error;
  }
  // The queries written before the break fail together; let every failure land.
  await new Promise((resolve) => setImmediate(resolve));
  const broken = [began, note, inserted, committed].find((r) => r.error !== undefined)!.error;
  // A COMMIT that was never written cannot have committed: without it the backend rolls back.
  if (!committed.failed) throw new DatabaseUnavailableError(broken);
  if (!note.value) {
    // BEGIN refused by the server (a fatal error: it closes the connection and runs nothing
    // after it): nothing was written. Otherwise the id never came back, and the INSERT and
    // COMMIT may have been run all the same.
    if (began.error instanceof postgres.PostgresError) throw new DatabaseUnavailableError(broken);
    throw new CommitOutcomeUnknownError(broken);
  }
  const { xid, before } = note.value[0]!;
  const outcome = await findCommitOutcome(client, xid);
  if (outcome === 'aborted') throw new DatabaseUnavailableError(broken);
  if (outcome === 'unknown') throw new CommitOutcomeUnknownError(broken);
  if (inserted.value) return inserted.value.map((r) => r.order);
  const created = await readCreatedBy(client, xid, before).catch((err: unknown) => {
    throw new CommitOutcomeUnknownError(err);
  });
  if (created.length !== inputs.length) throw new CommitOutcomeUnknownError(broken);
  return created;
}

const noop = () => {};

/** A promise's outcome, readable as soon as it is known. */
function settled<T>(promise: PromiseLike<T>): { value?: T; error?: unknown; failed: boolean } {
  const state: { value?: T; error?: unknown; failed: boolean } = { failed: false };
  promise.then(
    (value) => {
      state.value = value;
    },
    (error: unknown) => {
      state.error = error;
      state.failed = true;
    },
  );
  return state;
}

/** The orders transaction `xid` created, as created; their ids are above `before`. */
async function readCreatedBy(client: postgres.Sql, xid: string, before: string): Promise<Order[]> {
  const rows = await askWithin(
    client<{ order: Order }[]>`
      select "order" from order_events
       where order_id > ${before}::bigint and type = 'created'
         and xmin = (${xid}::xid8::text::numeric % 4294967296)::text::xid
       order by order_id`.execute(),
  );
  return rows.map((r) => r.order);
}

function requestHash(input: CreateOrderInput): string {
  const canonical = JSON.stringify([input.customerName, input.productName, input.status ?? 'pending']);
  return createHash('sha256').update(canonical).digest('base64url');
}

/**
 * Creates orders in one statement and returns them in input order. An input whose
 * idempotency key was used before gets the order made the first time (its current state,
 * or its last state if deleted since), and nothing is written for it.
 */
async function createOrders(tx: Transaction, inputs: CreateOrderInput[]): Promise<Order[]> {
  const keyed = [...new Set(inputs.flatMap((i) => (i.idempotencyKey === undefined ? [] : [i.idempotencyKey])))];
  const previous = new Map<string, { orderId: string; requestHash: string }>();
  if (keyed.length > 0) {
    // Concurrent retries with one key must not both create: they queue on a lock per key
    // (taken in a fixed order, so two batches sharing keys cannot deadlock).
    await tx.execute(
      sql`select pg_advisory_xact_lock(h) from (
            select distinct hashtextextended(k, 0) as h from unnest(array[${sql.join(keyed.map((k) => sql`${k}`), sql`, `)}]::text[]) as k order by 1
          ) as locks`,
    );
    const rows = await tx.select().from(idempotencyKeys).where(inArray(idempotencyKeys.key, keyed));
    for (const r of rows) previous.set(r.key, { orderId: r.orderId.toString(), requestHash: r.requestHash });
  }

  // Decide, per input, whether it reuses an earlier order (by key) or needs a new row.
  const fresh: CreateOrderInput[] = [];
  const firstUse = new Map<string, number>(); // key -> index into `fresh`
  const plan = inputs.map((input): { newIndex?: number; existingId?: string } => {
    const key = input.idempotencyKey;
    if (key === undefined) return { newIndex: fresh.push(input) - 1 };
    const hash = requestHash(input);
    const earlier = previous.get(key);
    const sameBatch = firstUse.get(key);
    const usedHash = earlier?.requestHash ?? (sameBatch === undefined ? undefined : requestHash(fresh[sameBatch]!));
    if (usedHash !== undefined && usedHash !== hash) {
      throw new TRPCError({
        code: 'CONFLICT',
        message: `idempotencyKey "${key}" was already used for a different order`,
      });
    }
    if (earlier) return { existingId: earlier.orderId };
    if (sameBatch !== undefined) return { newIndex: sameBatch };
    const index = fresh.push(input) - 1;
    firstUse.set(key, index);
    return { newIndex: index };
  });

  let created: Order[] = [];
  if (fresh.length > 0) {
    const rows = await tx
      .insert(orders)
      .values(fresh.map((i) => ({ customerName: i.customerName, productName: i.productName, status: i.status })))
      .returning();
    if (rows.length !== fresh.length) {
      throw new Error(`inserted ${rows.length} orders, expected ${fresh.length}`);
    }
    // Identity values are drawn in VALUES order; RETURNING's row order is not promised.
    rows.sort((a, b) => (a.id < b.id ? -1 : 1));
    created = rows.map(toOrder);
    const newKeys = [...firstUse].map(([key, index]) => ({
      key,
      orderId: BigInt(created[index]!.id),
      requestHash: requestHash(fresh[index]!),
    }));
    if (newKeys.length > 0) await tx.insert(idempotencyKeys).values(newKeys);
  }

  const existingIds = [...new Set(plan.flatMap((p) => (p.existingId === undefined ? [] : [p.existingId])))];
  const existing = new Map<string, Order>();
  for (const id of existingIds) {
    const order = (await findOrder(tx, id)) ?? (await lastKnownOrder(tx, id));
    // Deleted, and its events pruned since (EVENT_RETENTION): nothing left to answer with.
    if (!order) throw notFound(id);
    existing.set(id, order);
  }

  return plan.map((p) => (p.existingId === undefined ? created[p.newIndex!]! : existing.get(p.existingId)!));
}

export async function findOrder(db: Executor, id: string): Promise<Order | undefined> {
  const [row] = await db.select().from(orders).where(eq(orders.id, BigInt(id)));
  return row && toOrder(row);
}

export async function getOrder(db: Executor, id: string): Promise<Order> {
  const order = await findOrder(db, id);
  if (!order) throw notFound(id);
  return order;
}

function versionConflict(id: string, expected: number, actual: number): TRPCError {
  return new TRPCError({
    code: 'CONFLICT',
    message: `order ${id} is at version ${actual}, not the expected ${expected}`,
  });
}

/** Applies the given fields. A write of the same values is a no-op: no event, same version. */
export async function updateOrder(tx: Transaction, input: UpdateOrderInput): Promise<Order> {
  const { id, expectedVersion, ...fields } = input;
  const [row] = await tx
    .update(orders)
    .set(fields)
    .where(and(eq(orders.id, BigInt(id)), expectedVersion === undefined ? undefined : eq(orders.version, expectedVersion)))
    .returning();
  if (row) return toOrder(row);
  const current = await findOrder(tx, id);
  if (!current) throw notFound(id);
  throw versionConflict(id, expectedVersion!, current.version);
}

export async function deleteOrder(tx: Transaction, id: string, expectedVersion?: number): Promise<{ id: string }> {
  const [row] = await tx
    .delete(orders)
    .where(and(eq(orders.id, BigInt(id)), expectedVersion === undefined ? undefined : eq(orders.version, expectedVersion)))
    .returning({ id: orders.id });
  if (row) return { id: row.id.toString() };
  const current = await findOrder(tx, id);
  if (!current) throw notFound(id);
  throw versionConflict(id, expectedVersion!, current.version);
}

export type OrderPage = {
  orders: Order[];
  nextCursor: string | null;
  lastEventId: string;
  /** `lastEventId` as a resume id naming its event: subscribe from this to be told if the log's history changes */
  resumeId: string;
};

/**
 * A page of orders by id, with the position of the last event the page reflects: both from
 * one snapshot that holds exactly the events up to `lastEventId` (log-snapshot.ts), so
 * subscribing after it misses nothing and repeats nothing.
 */
export async function listOrders(
  db: Database,
  opts: { status?: OrderStatus; limit: number; cursor?: string },
): Promise<OrderPage> {
  return inLogSnapshot(db, async (tx, head) => {
    const rows = await tx
      .select()
      .from(orders)
      .where(
        and(
          opts.cursor === undefined ? undefined : gt(orders.id, BigInt(opts.cursor)),
          opts.status === undefined ? undefined : eq(orders.status, opts.status),
        ),
      )
      .orderBy(asc(orders.id))
      .limit(opts.limit + 1);
    const more = rows.length > opts.limit;
    const page = more ? rows.slice(0, opts.limit) : rows;
    return {
      orders: page.map(toOrder),
      nextCursor: more ? page[page.length - 1]!.id.toString() : null,
      lastEventId: head.position,
      resumeId: head.resumeId,
    };
  });
}
