import type { BenchDatabase } from '../database.ts';
import type { Sizes } from '../options.ts';
import type { Row } from '../report.ts';

/** What every scenario gets: the shared cluster, the sizes, and where to put its figures. */
export type ScenarioContext = {
  database: BenchDatabase;
  sizes: Sizes;
  smoke: boolean;
  rows: Row[];
  details: Record<string, unknown>;
  /** sockets one client process may hold, from `ulimit -n` with room to spare */
  socketsPerProcess: number;
  log(message: string): void;
};
