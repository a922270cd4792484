/*
 * A commit in doubt: the connection broke after COMMIT was sent (or, for a statement that is
 * its own transaction, after the statement was sent). PostgreSQL may have committed or not,
 * and may still be about to: a backend waiting at commit (for the log's position lock, or a
 * synchronous standby) does not notice that its client has gone, and commits whenever the
 * wait ends. So the answer "nothing was written" would be a guess, and a client retrying on it
 * would write twice.
 *
 * We noted the transaction's id before committing (`pg_current_xact_id()`); here we ask, on
 * another connection, what became of it (`pg_xact_status`). While it is still in progress we
 * end its backend (`pg_terminate_backend`, found by `backend_xid`): a transaction that has not
 * written its commit record is then rolled back, one that has is finished, and either way the
 * outcome is settled now rather than whenever the wait would have ended. Every question has
 * its own time limit, and the whole has a bound: past it the outcome is unknown, and we say so.
 */
import type postgres from 'postgres';
import { sleep } from '../retry.ts';

export type CommitOutcome = 'committed' | 'aborted' | 'unknown';

/** How long, in all, we try to find out before answering "unknown". */
const RESOLVE_WITHIN_MS = 5_000;
/** The limit of one question; a connection that cannot be made within it is not waited for. */
const ASK_WITHIN_MS = 2_000;
const POLL_MS = 20;

class TimedOut extends Error {
  override name = 'TimedOut';
}

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimedOut()), ms);
  });
  // A question that answers after its limit is ignored (cancelling it could cancel another
  // query on that connection: postgres.js's README); its failure must not go unhandled.
  work.catch(() => {});
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** `question` (a query on a recovery path), or TimedOut past the limit of one question. */
export function askWithin<T>(question: Promise<T>): Promise<T> {
  return within(ASK_WITHIN_MS, question);
}

/**
 * What became of transaction `xid` (a `pg_current_xact_id()` as text), asked through `sql`
 * (a pool: the broken connection is out of it). Never throws.
 */
export async function findCommitOutcome(
  sql: postgres.Sql,
  xid: string,
  { withinMs = RESOLVE_WITHIN_MS }: { withinMs?: number } = {},
): Promise<CommitOutcome> {
  const deadline = Date.now() + withinMs;
  let terminated = false;
  let attempt = 0;
  while (Date.now() < deadline) {
    const left = Math.min(ASK_WITHIN_MS, deadline - Date.now());
    try {
      const [row] = await within(left, sql<[{ status: string | null }]>`select pg_xact_status(${xid}::xid8) as status`.execute());
      const status = row?.status;
      if (status === 'committed' || status === 'aborted') return status;
      // Too old for the commit log: cannot happen within seconds of the commit, and if it did,
      // guessing would be worse than saying we do not know.
      if (status !== 'in progress') return 'unknown';
      if (!terminated) {
        // xid8 is the epoch and the 32-bit xid; backend_xid is the latter. Only our
        // transaction's backend has it while the transaction runs.
        await within(
          Math.min(ASK_WITHIN_MS, deadline - Date.now()),
          sql`select pg_terminate_backend(pid) from pg_stat_activity
               where backend_xid = (${xid}::xid8::text::numeric % 4294967296)::text::xid`.execute(),
        );
        terminated = true;
      }
    } catch {
      // The database out of reach, or a question past its limit: ask again while time is left.
    }
    // Soon after a break the answer is usually a few milliseconds away; a database that is
    // restarting is not asked hundreds of times.
    await sleep(Math.min(POLL_MS * 2 ** Math.min(attempt++, 5), Math.max(0, deadline - Date.now())));
  }
  return 'unknown';
}
