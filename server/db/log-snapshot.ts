import type { ResumeId } from '../../shared/resume-id.ts';
import type { Database, Transaction } from './client.ts';
import { positionWhatTheSnapshotSees, seesUnpositionedEvents } from './event-sequencing.ts';
import { logHead } from './events.ts';

/** Where a snapshot stands in the log: its rows hold every event up to `position`, and none after. */
export type SnapshotHead = { position: string; resumeId: ResumeId };

/**
 * Runs `read` in one REPEATABLE READ snapshot whose `orders` rows are exactly the effect of
 * the events up to the log's head (`head`). Since positions follow commit order, a snapshot
 * holds exactly the events up to its last position. In sequenced mode a snapshot can see a
 * committed change whose event has no position yet; then it is taken again, positioning what
 * it sees first (server/db/event-sequencing.ts). `orders.list` reads through here, and so
 * does `orders.counts` when it counts rows, so their `lastEventId` means the same.
 */
export async function inLogSnapshot<T>(db: Database, read: (tx: Transaction, head: SnapshotHead) => Promise<T>): Promise<T> {
  const first = await attempt(db, read, false);
  return first.done ? first.value : (await attempt(db, read, true)).value!;
}

async function attempt<T>(
  db: Database,
  read: (tx: Transaction, head: SnapshotHead) => Promise<T>,
  positionFirst: boolean,
): Promise<{ done: true; value: T } | { done: false; value?: undefined }> {
  return db.transaction(
    async (tx) => {
      if (positionFirst) await positionWhatTheSnapshotSees(tx);
      else if (await seesUnpositionedEvents(tx)) return { done: false };
      const head = await logHead(tx);
      return { done: true, value: await read(tx, { position: head.position, resumeId: head.resumeId }) };
    },
    { isolationLevel: 'repeatable read', accessMode: positionFirst ? 'read write' : 'read only' },
  );
}
