import { TRPCClientError } from '@trpc/client';
import { afterEach, describe, expect } from 'vitest';
import type { Order } from '../shared/orders.ts';
import { sample } from './support/metrics-text.ts';
import { testWithServer, type TestServer } from './support/server.ts';

// Group commit of orders.create (server/db/create-batcher.ts): creates that arrive while a
// create insert is in flight wait, and go together as one insert in one transaction. To make
// them wait without timing luck, a statement trigger installed from SQL holds every insert into
// `orders` at an advisory lock the test holds: the first create of each writer waits in PostgreSQL, the
// others queue in the server (its `live_orders_creates_waiting` gauge counts them), and the
// test lets them all go at once.

const ALICE = 'alice-secret-token';
const BOB = 'bob-secret-token';
const test = testWithServer({ AUTH_TOKENS: `alice:writer:${ALICE},bob:writer:${BOB}` });

const HOLD_KEY = 735_020;

/** Installs the holding trigger and takes its lock; `release()` lets the inserts go. */
async function holdInserts(server: TestServer): Promise<{ release(): Promise<void> }> {
  await server.sql.unsafe(`
    create or replace function test_hold_inserts() returns trigger language plpgsql as $$
    begin
      perform pg_advisory_xact_lock_shared(${HOLD_KEY});
      return null;
    end $$;
    create or replace trigger test_hold_inserts before insert on orders
      for each statement execute function test_hold_inserts();`);
  const holder = await server.sql.reserve();
  await holder`select pg_advisory_lock(${HOLD_KEY})`;
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await holder`select pg_advisory_unlock(${HOLD_KEY})`;
    holder.release();
  };
  cleanups.push(async () => {
    await release();
    await server.sql`drop trigger if exists test_hold_inserts on orders`;
  });
  return { release };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Inserts waiting at the test's lock, in this database. */
async function insertsHeld(server: TestServer): Promise<number> {
  const [row] = await server.sql<[{ n: number }]>`
    select count(*)::int as n from pg_stat_activity
     where datname = current_database() and wait_event_type = 'Lock' and wait_event = 'advisory'`;
  return row.n;
}

async function createsWaiting(server: TestServer): Promise<number | undefined> {
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ALICE}` } });
  return sample(await res.text(), 'live_orders_creates_waiting');
}

/** Each order's row, and the transaction that inserted it (`xmin`: rows of orders are not updated here). */
async function rowsOf(server: TestServer, ids: string[]) {
  return server.sql<{ id: string; customerName: string; productName: string; status: string; xact: string }[]>`
    select id::text, customer_name as "customerName", product_name as "productName", status::text, xmin::text as xact
      from orders where id = any(${ids}::bigint[]) order by id`;
}

async function createdEventsOf(server: TestServer, ids: string[]) {
  return server.sql<{ orderId: string; actor: string; order: Order }[]>`
    select order_id::text as "orderId", actor, "order" from order_events
     where type = 'created' and order_id = any(${ids}::bigint[]) order by order_id`;
}

const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);

describe('orders.create, grouped', () => {
  test('concurrent creates from two writers: each gets its own order and event, and they share transactions by writer', async ({ server }) => {
    const alice = server.client({ token: ALICE });
    const bob = server.client({ token: BOB });
    const hold = await holdInserts(server);

    // Each writer's first create goes at once, side by side (a line per actor), and waits here.
    const firsts = [alice, bob].map((c) => c.orders.create.mutate({ customerName: 'first', productName: 'held' }));
    await expect.poll(() => insertsHeld(server), { timeout: 20_000 }).toBe(2);

    const N = 12;
    const calls = Array.from({ length: N }, (_, i) => {
      const writer = i % 2 === 0 ? 'alice' : 'bob';
      const input = { customerName: `${writer} ${i}`, productName: `product ${i}`, status: i % 3 === 0 ? ('confirmed' as const) : undefined };
      return { writer, input, result: (writer === 'alice' ? alice : bob).orders.create.mutate(input) };
    });
    await expect.poll(() => createsWaiting(server), { timeout: 20_000 }).toBe(N);
    await hold.release();

    const firstOrders = await Promise.all(firsts);
    const orders = await Promise.all(calls.map((c) => c.result));
    // Read your writes: once answered, each create's event is in the log (in sequenced
    // ordering too, where it answers once its events have positions).
    const logged = new Set((await server.logAfter('0')).filter((e) => e.type === 'created').map((e) => e.orderId));
    for (const o of orders) expect(logged.has(o.id)).toBe(true);
    for (const [i, { input }] of calls.entries()) {
      expect(orders[i]).toMatchObject({ customerName: input.customerName, productName: input.productName, status: input.status ?? 'pending', version: 1 });
    }
    const ids = orders.map((o) => o.id);
    expect(new Set([...ids, ...firstOrders.map((o) => o.id)]).size).toBe(N + 2);

    // The rows are what each caller was told, and one 'created' event per order names its caller.
    const rows = await rowsOf(server, ids);
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const o of orders) expect(byId.get(o.id)).toMatchObject({ customerName: o.customerName, productName: o.productName, status: o.status });
    const events = await createdEventsOf(server, ids);
    expect(events.map((e) => e.orderId)).toEqual([...ids].sort((a, b) => Number(a) - Number(b)));
    const eventOf = new Map(events.map((e) => [e.orderId, e]));
    for (const [i, c] of calls.entries()) {
      expect(eventOf.get(orders[i]!.id)!.actor).toBe(c.writer);
      expect(eventOf.get(orders[i]!.id)!.order).toEqual(orders[i]);
    }

    // Grouped: the twelve queued creates went as one transaction per writer, never two writers in one.
    const xactsOf = (writer: string) => new Set(calls.flatMap((c, i) => (c.writer === writer ? [byId.get(orders[i]!.id)!.xact] : [])));
    expect(xactsOf('alice').size).toBe(1);
    expect(xactsOf('bob').size).toBe(1);
    expect(xactsOf('alice')).not.toEqual(xactsOf('bob'));

    // And the metrics saw the groups: fourteen creates in four inserts (each writer's first alone, then its group).
    const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ALICE}` } })).text();
    expect(sample(text, 'live_orders_create_group_size_sum')! - sample(text, 'live_orders_create_group_size_count')!).toBeGreaterThanOrEqual(N - 2);
  });

  test('a member the database refuses fails alone, with the error it gets alone; the others commit', async ({ server }) => {
    const alice = server.client({ token: ALICE });
    await server.sql.unsafe(`
      create or replace function test_refuse_poison() returns trigger language plpgsql as $$
      begin
        if new.customer_name = 'poison' then raise exception 'poison refused'; end if;
        return new;
      end $$;
      create or replace trigger test_refuse_poison before insert on orders
        for each row execute function test_refuse_poison();`);
    cleanups.push(async () => {
      await server.sql`drop trigger if exists test_refuse_poison on orders`;
    });
    const alone = await alice.orders.create.mutate({ customerName: 'poison', productName: 'alone' }).catch((err: unknown) => err);
    expect(codeOf(alone)).toBe('INTERNAL_SERVER_ERROR');

    const hold = await holdInserts(server);
    const first = alice.orders.create.mutate({ customerName: 'first', productName: 'held' });
    await expect.poll(() => insertsHeld(server), { timeout: 20_000 }).toBe(1);
    const names = ['good 0', 'good 1', 'poison', 'good 2', 'good 3'];
    const results = names.map((customerName) =>
      alice.orders.create.mutate({ customerName, productName: 'grouped' }).then(
        (order) => ({ order }),
        (error: unknown) => ({ error }),
      ),
    );
    await expect.poll(() => createsWaiting(server), { timeout: 20_000 }).toBe(names.length);
    await hold.release();
    await first;

    const settled = await Promise.all(results);
    const poisoned = settled[2]!;
    expect('error' in poisoned && codeOf(poisoned.error)).toBe('INTERNAL_SERVER_ERROR');
    expect((poisoned as { error: TRPCClientError<never> }).error.message).toBe((alone as TRPCClientError<never>).message);
    const good = settled.filter((r, i) => i !== 2).map((r) => {
      if (!('order' in r)) throw new Error(`a good create failed: ${String(r.error)}`);
      return r.order;
    });
    expect(good.map((o) => o.customerName)).toEqual(['good 0', 'good 1', 'good 2', 'good 3']);
    const rows = await rowsOf(server, good.map((o) => o.id));
    expect(rows.map((r) => r.customerName).sort()).toEqual(['good 0', 'good 1', 'good 2', 'good 3']);
    expect((await createdEventsOf(server, good.map((o) => o.id))).map((e) => e.actor)).toEqual(['alice', 'alice', 'alice', 'alice']);
    const [{ poison }] = await server.sql<[{ poison: number }]>`select count(*)::int as poison from orders where customer_name = 'poison'`;
    expect(poison).toBe(0);
  });
});
