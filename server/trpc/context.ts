import type { Database } from '../db/client.ts';
import type { EventHub } from '../events/hub.ts';
import type { Logger } from '../logger.ts';

/** What procedures run with; built once at start-up and shared by every request. */
export type Services = {
  db: Database;
  hub: EventHub;
  log: Logger;
};

/** The slice of a WebSocket a subscription needs to respect backpressure. */
export type Outbound = { readonly bufferedAmount: number; readonly readyState: number };

export type Context = Services & {
  /** Recorded on every event this request causes. */
  actor: string;
  /** The WebSocket the request came on; absent over HTTP. */
  socket?: Outbound;
};

export function createContextFactory(services: Services): (opts?: { res?: unknown }) => Context {
  return (opts) => {
    const ctx: Context = { ...services, actor: 'anonymous' };
    // The ws adapter passes the WebSocket as `res`; the HTTP one passes a ServerResponse.
    const res = opts?.res as Partial<Outbound> | undefined;
    if (res && typeof res.bufferedAmount === 'number') ctx.socket = res as Outbound;
    return ctx;
  };
}
