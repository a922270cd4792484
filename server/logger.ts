import { pino, type Logger } from 'pino';

export type { Logger };

/** One structured JSON logger for the process; children carry a `component` field. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid } });
}
