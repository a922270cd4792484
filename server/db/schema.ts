import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgSequence,
  pgTable,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';
import { type Order, type OrderChanges } from '../../shared/orders.ts';
import { DEFAULT_ORDER_STATUS, ORDER_STATUSES } from '../../shared/order-status.ts';
import { MAX_NAME_LENGTH } from '../../shared/protocol.ts';

export const orderStatus = pgEnum('order_status', ORDER_STATUSES);
export const orderEventType = pgEnum('order_event_type', ['created', 'updated', 'deleted']);

// Ids and positions are bigint here and decimal strings everywhere outside server/db/.

// Millisecond precision, so a timestamp read back through the API equals the one in the
// event the trigger wrote (JavaScript dates carry milliseconds, PostgreSQL microseconds).
const timestampMs = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: 'date' });

export const orders = pgTable(
  'orders',
  {
    id: bigint('id', { mode: 'bigint' }).primaryKey().generatedAlwaysAsIdentity(),
    customerName: text('customer_name').notNull(),
    productName: text('product_name').notNull(),
    status: orderStatus('status').notNull().default(DEFAULT_ORDER_STATUS),
    // Owned by the trigger `orders_before_write`: 1 on insert, +1 on each real change.
    version: integer('version').notNull().default(1),
    createdAt: timestampMs('created_at').notNull().defaultNow(),
    updatedAt: timestampMs('updated_at').notNull().defaultNow(),
  },
  (t) => [
    check('orders_customer_name_length', sql`char_length(${t.customerName}) between 1 and ${sql.raw(String(MAX_NAME_LENGTH))}`),
    check('orders_product_name_length', sql`char_length(${t.productName}) between 1 and ${sql.raw(String(MAX_NAME_LENGTH))}`),
    // The years in which PostgreSQL's to_char (order_json(), the replay query) and JavaScript
    // (toISOString, and postgres.js parsing "0050-..." as 1950) write a time the same way;
    // outside them an order's JSON would depend on which path it took. Only raw SQL can
    // set created_at (updated_at follows it, or the clock); out of range is refused.
    check('orders_created_at_range', sql`${t.createdAt} >= '0100-01-01T00:00:00Z' and ${t.createdAt} < '10000-01-01T00:00:00Z'`),
    index('orders_status_id_idx').on(t.status, t.id),
  ],
);

export type OrderRow = typeof orders.$inferSelect;

/** Positions of the log; only the commit-time trigger takes values from it (see drizzle/*_order_events_trigger.sql). */
export const orderEventsIdSeq = pgSequence('order_events_id_seq');

export const orderEvents = pgTable(
  'order_events',
  {
    id: bigint('id', { mode: 'bigint' }).primaryKey(),
    type: orderEventType('type').notNull(),
    // No foreign key: the history of a deleted order stays.
    orderId: bigint('order_id', { mode: 'bigint' }).notNull(),
    order: jsonb('order').$type<Order>().notNull(),
    changes: jsonb('changes').$type<OrderChanges>(),
    actor: text('actor').notNull(),
    at: timestampMs('at').notNull().default(sql`clock_timestamp()`),
  },
  (t) => [
    index('order_events_order_id_id_idx').on(t.orderId, t.id),
    // Block ranges by time, for "the events of the last hour" (orders.flow) and "the first
    // event after a time" (events.positionAt): `at` grows with the position, nearly, so a
    // range's bounds are tight. A few bytes per 128 pages, nothing per insert but a summary
    // kept up by autovacuum (autosummarize); an unsummarized range is read, never skipped.
    index('order_events_at_brin').using('brin', t.at).with({ autosummarize: true }),
  ],
);

export type OrderEventRow = typeof orderEvents.$inferSelect;

/**
 * How much of the log's start was pruned (EVENT_RETENTION): every event at or below
 * `through` is gone. One row. Pruning deletes events and raises `through` in one
 * transaction, so a reader that sees `through` in the same statement as the events knows
 * whether what it read has a gap (server/db/events.ts).
 */
export const orderEventsPruned = pgTable(
  'order_events_pruned',
  {
    // Always true: the primary key makes it the only row.
    single: boolean('single').primaryKey().default(true),
    through: bigint('through', { mode: 'bigint' }).notNull().default(sql`0`),
    /**
     * `order_log_base` holds every order as it stood right after this position. The pruner
     * moves it up to `through` in the transaction that prunes (at least `through`, always), so
     * the orders at any position from here on are the base plus the kept log's events.
     */
    baseAt: bigint('base_at', { mode: 'bigint' }).notNull().default(sql`0`),
  },
  (t) => [check('order_events_pruned_single', sql`${t.single}`)],
);

/**
 * The log's base: every order that existed right after `order_events_pruned.base_at`, as it
 * was then (its last event up to there). What pruning took from the log and time travel
 * (`orders.list({ asOf })`) still needs: an order whose every event was pruned is here.
 * Written only by the pruner (and the migration that made it).
 */
export const orderLogBase = pgTable('order_log_base', {
  orderId: bigint('order_id', { mode: 'bigint' }).primaryKey(),
  order: jsonb('order').$type<Order>().notNull(),
});

/** Creates made with an idempotency key: a retry with the key gets the order made the first time. */
export const idempotencyKeys = pgTable('idempotency_keys', {
  key: text('key').primaryKey(),
  orderId: bigint('order_id', { mode: 'bigint' }).notNull(),
  // The request the key was first used with; the same key with another request is a conflict.
  requestHash: text('request_hash').notNull(),
  createdAt: timestampMs('created_at').notNull().defaultNow(),
});

/**
 * How events get their positions, and where the sequencer stands (drizzle/0006_sequenced_log.sql).
 * One row. `ordering`: 'commit', the trigger takes a position at COMMIT; 'sequenced', the
 * trigger only appends to `order_events_pending` and a sequencer positions committed events
 * in batches. `last`: the last position the sequencer gave; its row lock serialises sequencers.
 */
export const orderEventsHead = pgTable(
  'order_events_head',
  {
    single: boolean('single').primaryKey().default(true),
    ordering: text('ordering', { enum: ['commit', 'sequenced'] }).notNull().default('commit'),
    last: bigint('last', { mode: 'bigint' }).notNull().default(sql`0`),
  },
  (t) => [
    check('order_events_head_single', sql`${t.single}`),
    check('order_events_head_ordering', sql`${t.ordering} in ('commit', 'sequenced')`),
  ],
);

/**
 * Events appended in sequenced mode, not yet positioned. `seq` is drawn as each event is
 * appended (statement order within a transaction); `xid` groups a transaction's events. The
 * sequencer moves committed rows into `order_events`; readers never read this table.
 */
export const orderEventsPending = pgTable('order_events_pending', {
  seq: bigint('seq', { mode: 'bigint' }).primaryKey().generatedByDefaultAsIdentity(),
  xid: bigint('xid', { mode: 'bigint' }).notNull().default(sql`(pg_current_xact_id()::text)::bigint`),
  type: orderEventType('type').notNull(),
  orderId: bigint('order_id', { mode: 'bigint' }).notNull(),
  order: jsonb('order').$type<Order>().notNull(),
  changes: jsonb('changes').$type<OrderChanges>(),
  actor: text('actor').notNull(),
  at: timestampMs('at').notNull().default(sql`clock_timestamp()`),
});

/**
 * How much each block of positions moved the orders per status: the sum of `countMoves`
 * (shared/order-counts.ts) over the events at positions (block * size, (block + 1) * size].
 * A cache that `orders.counts({ asOf })` fills as it goes, for blocks the log has passed
 * (no event can appear there any more), so counts at a past position read a few of these
 * instead of every event since (server/db/order-count-blocks.ts).
 */
export const orderCountBlocks = pgTable('order_count_blocks', {
  block: bigint('block', { mode: 'bigint' }).primaryKey(),
  /** status -> net move; statuses that did not move are left out */
  moves: jsonb('moves').$type<Partial<Record<string, number>>>().notNull(),
});

/**
 * The orders per status right after a position, as `orders.counts` found them (the counts
 * read from `orders` in a snapshot at that position, or an earlier row moved by the events
 * since). Later counts start from the nearest row at or before their position and move it by
 * the events after it, instead of counting every order (server/db/order-counts.ts). Stored
 * at most once per 1,000 positions; never changed (what happened up to a position does not).
 */
export const orderCountsAt = pgTable('order_counts_at', {
  position: bigint('position', { mode: 'bigint' }).primaryKey(),
  counts: jsonb('counts').$type<Record<string, number>>().notNull(),
});
