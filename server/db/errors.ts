/** The database cannot be reached right now; the request changed nothing and may be retried. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
  constructor(cause?: unknown) {
    super('database unavailable: nothing was written; retry when it is back', { cause });
  }
}

// postgres.js connection failures, and PostgreSQL's classes 08 (connection exception) and
// 57P (operator intervention: shutdown, crash, not yet accepting connections).
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

/** Whether an error (or any error in its cause chain) means the database is out of reach. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 8; depth++) {
    if (e instanceof DatabaseUnavailableError) return true;
    // Its cause is a broken connection too, but the write may have happened: not "unavailable".
    if (e instanceof CommitOutcomeUnknownError) return false;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08') || code.startsWith('57P'))) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * The connection broke after COMMIT was sent (or, for a statement that is its own
 * transaction, after the statement was sent), and the database could not be asked within a
 * bound whether it committed. The write may have happened: saying "nothing was written" would
 * invite a retry that writes twice.
 */
export class CommitOutcomeUnknownError extends Error {
  static readonly MESSAGE =
    'commit outcome unknown: the connection to the database broke while the write was committing, and the database could not be asked whether it committed; ' +
    'read the order to see, or retry: a create with the same idempotencyKey is safe to retry, and so is an update or delete with expectedVersion';
  override name = 'CommitOutcomeUnknownError';
  constructor(cause?: unknown) {
    super(CommitOutcomeUnknownError.MESSAGE, { cause });
  }
}

/** Whether an error (or any error in its cause chain) is a commit whose outcome is unknown. */
export function isCommitOutcomeUnknown(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 8; depth++) {
    if (e instanceof CommitOutcomeUnknownError) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
