import { createRoot, createSignal, onCleanup } from 'solid-js';
import { createLiveOrders, type Api, type LiveOrders } from 'live-orders-client';
import { createLiveOrdersStore } from 'live-orders-client/solid';
import type { OrderEvent } from '../../../shared/orders.ts';
import { isUnauthorized } from '../lib/errors.ts';
import { session } from '../lib/session.ts';
import type { Access } from './access.ts';
import type { Feed } from './feed.ts';
import type { OrdersStore } from './orders.ts';

/** A figure kept live beside the copy (live-aggregate.ts): read after each snapshot, moved by each change. */
export type LiveFigure = { reload(tableAt: string): void; changed(events: readonly OrderEvent[]): void; reset(): void };

/**
 * Live updates through the client library (`live-orders-client`): a snapshot, then every
 * change, resumed after any drop, reloaded when the server cannot resume. WebSocket first;
 * where no WebSocket can be opened (a proxy that blocks them), Server-Sent Events.
 *
 * One LiveOrders per token: the WebSocket sends its token once, when it opens, so a new
 * token starts over. When the server wants a token (UNAUTHORIZED), everything shown is
 * forgotten and `access` asks for one.
 */
export function startLiveSync(store: OrdersStore, feed: Feed, access: Access, figures: readonly LiveFigure[] = []) {
  const [error, setError] = createSignal<string | null>(null);
  let live: LiveOrders | null = null;
  let dispose = () => {};

  const stop = () => {
    dispose();
    dispose = () => {};
    void live?.close();
    live = null;
    store.attach(null);
    feed.reset();
    for (const figure of figures) figure.reset();
    setError(null);
  };

  /** The server refused the token (or its absence): forget everything and ask for one. */
  const refused = () => {
    stop();
    access.unauthorized();
  };

  /** Settles once the first snapshot is in, or the token was refused. */
  const start = (): Promise<void> => {
    stop();
    const current = (live = createLiveOrders({ token: session.token, transport: 'websocket', fallbackToSse: true }));
    // Set by a snapshot (the first, or after a resync), till the table shows it.
    let snapshotShown = false;
    createRoot((disposeRoot) => {
      dispose = disposeRoot;
      store.attach(createLiveOrdersStore(current, { onChanges: (events) => {
        for (const event of events) feed.add(event);
        store.changed(events);
        // In the same Solid batch as the rows, so the figures never disagree with the table. A
        // new snapshot need not follow on from what the figures were moved by: read them
        // again, against the position of the rows the table shows from now on.
        if (snapshotShown) {
          snapshotShown = false;
          for (const figure of figures) figure.reload(current.lastEventId ?? '0');
        }
        for (const figure of figures) figure.changed(events);
      } }));
      const stops = [
        current.on('snapshot', () => {
          snapshotShown = true;
          access.granted();
          setError(null);
        }),
        current.on('error', ({ error: err, fatal }) => {
          if (isUnauthorized(err)) return refused();
          // Until the first snapshot is in, say why nothing shows; it keeps retrying by itself.
          if (fatal) setError(`Live updates stopped: ${err.message}. Reload the page to resume.`);
          else if (!store.loaded()) setError(`Could not load the orders: ${err.message}. Retrying…`);
        }),
      ];
      onCleanup(() => stops.forEach((s) => s()));
    });
    return current.ready.catch(() => {});
  };
  void start();

  return {
    error,
    /**
     * The library's typed client for queries and mutations: the same server and token as the
     * live updates (the token is read on every request).
     */
    api(): Api {
      if (!live) throw new Error('Not connected: sign in to continue.');
      return live.api;
    },
    /** A call was refused UNAUTHORIZED: the token in use is no longer good. */
    refused,
    /** Forgets what is shown and starts over with `token` (null: signs out). */
    switchToken(token: string | null) {
      stop();
      access.use(token);
      return start();
    },
  };
}
