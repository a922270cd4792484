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
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08') || code.startsWith('57P'))) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
