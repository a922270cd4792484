import { sql } from 'drizzle-orm';
import type postgres from 'postgres';
import type { Executor, Transaction } from './client.ts';

/** How events get their positions (EVENT_ORDERING); drizzle/0006_sequenced_log.sql explains both. */
export type EventOrdering = 'commit' | 'sequenced';

/**
 * One sequencer batch: gives every committed, unpositioned event the next positions and
 * NOTIFYs the last. Returns that position, or null when nothing was waiting. One statement,
 * so it is its own transaction (safe through a transaction-mode pooler); cancelled after
 * `timeoutMs`, so a sequencer stuck behind a lock or a dying database gives up and retries.
 */
export async function sequenceEvents(client: postgres.Sql, timeoutMs: number): Promise<string | null> {
  const query = client<{ last: string | null }[]>`select order_events_sequence()::text as last`;
  const timer = setTimeout(() => void query.cancel(), timeoutMs);
  try {
    const [row] = await query;
    return row?.last ?? null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Vacuums the queue of unpositioned events. Every sequencer batch deletes what it moved, and
 * a queue's dead rows are what its next look and batch must scan past until VACUUM reclaims
 * them; autovacuum comes by once a minute at best (autovacuum_naptime), in which time a busy
 * node leaves hundreds of thousands. A node that sequences vacuums it every second or so
 * while events flow instead (server/events/sequencer.ts): a few pages each time. SKIP_LOCKED:
 * a vacuum already running (another node's, autovacuum's) does the same work; this one skips.
 * TRUNCATE false: giving the emptied pages back takes an exclusive lock that writers,
 * appending all the time, keep it from getting; VACUUM would retry for up to 5 seconds. The
 * pages stay, empty and reused. A role that does not own the table gets a warning and nothing
 * is done (autovacuum remains).
 */
export async function vacuumPendingEvents(client: postgres.Sql, timeoutMs: number): Promise<void> {
  const query = client.unsafe('vacuum (skip_locked, truncate false) order_events_pending');
  const timer = setTimeout(() => void query.cancel(), timeoutMs);
  try {
    await query;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Puts the database in `ordering` (a no-op if it is in it already) and positions every event
 * the other mode left pending, before any event of the new mode: see the migration.
 */
export async function setEventOrdering(db: Executor, ordering: EventOrdering): Promise<void> {
  await db.execute(sql`select order_events_set_ordering(${ordering})`);
}

/**
 * Whether a snapshot sees a committed change whose event has no position yet (sequenced
 * mode, between a commit and the sequencer's next batch). Such a snapshot's rows are not
 * "every change up to a position", so orders.list positions them itself: see
 * `positionWhatTheSnapshotSees`.
 */
export async function seesUnpositionedEvents(tx: Transaction): Promise<boolean> {
  const [row] = await tx.execute<{ waiting: boolean }>(sql`select exists (select from order_events_pending) as "waiting"`);
  return row!.waiting;
}

/**
 * The first statement of a REPEATABLE READ transaction (before its snapshot is taken, as
 * the PostgreSQL manual advises for LOCK): locks the head against every sequencer, then runs
 * a sequencer batch inside the snapshot, which positions exactly the pending events the
 * snapshot sees. Afterwards the snapshot's rows hold every change up to the log's last
 * position and none after: no other sequencer can position anything until this transaction
 * ends, and everything committed later is invisible to it and still pending.
 */
export async function positionWhatTheSnapshotSees(tx: Transaction): Promise<void> {
  await tx.execute(sql`lock table order_events_head in exclusive mode`);
  await tx.execute(sql`select order_events_sequence()`);
}
