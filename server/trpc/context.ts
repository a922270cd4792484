import type { Database } from '../db/client.ts';
import type { EventHub } from '../events/hub.ts';
import type { Logger } from '../logger.ts';

/** What procedures run with; built once at start-up and shared by every request. */
export type Services = {
  db: Database;
  hub: EventHub;
  log: Logger;
};

export type Context = Services & {
  /** Recorded on every event this request causes. */
  actor: string;
};

export function createContextFactory(services: Services): () => Context {
  return () => ({ ...services, actor: 'anonymous' });
}
