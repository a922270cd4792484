import { batch, createSignal, onCleanup } from 'solid-js';
import type { OrderEvent } from '../../../shared/orders.ts';
import { isUnauthorized } from '../lib/errors.ts';
import { trpc } from '../lib/trpc.ts';
import type { Access } from './access.ts';
import type { Connection } from './connection.ts';
import type { Feed } from './feed.ts';
import type { OrdersStore } from './orders.ts';

/**
 * Snapshot, then changes: `orders.list` page by page, and `orders.onChange` from the first
 * page's `lastEventId`, so no change falls between the two. After a dropped socket the tRPC
 * client resubscribes from the last id it delivered, and the server replays the gap.
 *
 * When the server wants a token (UNAUTHORIZED), everything shown is forgotten and `access`
 * asks for one; `switchToken` starts over with the new one.
 */
export function startLiveSync(store: OrdersStore, feed: Feed, connection: Connection, access: Access) {
  const [error, setError] = createSignal<string | null>(null);
  let unsubscribe = () => {};

  // A reconnect replays hundreds of events back to back; applying them in one batch per
  // task repaints once instead of once per event.
  let queue: OrderEvent[] = [];
  const flush = () => {
    const events = queue;
    queue = [];
    batch(() => {
      for (const event of events) {
        store.apply(event);
        feed.add(event);
        connection.seen(event.id);
      }
    });
  };

  /** Stops the subscription and forgets every order and event shown. */
  const forget = () => {
    unsubscribe();
    unsubscribe = () => {};
    queue = [];
    batch(() => {
      setError(null);
      store.reset();
      feed.reset();
    });
  };

  /** The server refused the token (or its absence): forget everything and ask for one. */
  const refused = () => {
    forget();
    access.unauthorized();
  };

  const subscribe = (lastEventId: string) => {
    unsubscribe(); // a retried load starts over from its own snapshot
    access.granted();
    connection.start(lastEventId);
    const sub = trpc.orders.onChange.subscribe(
      { lastEventId },
      {
        onData({ data }) {
          if (queue.push(data) === 1) setTimeout(flush, 0);
        },
        onError(err) {
          // The token stopped being accepted (the server's tokens changed): ask again.
          if (isUnauthorized(err)) return refused();
          setError(`Live updates stopped: ${err.message}. Reload the page to resume.`);
        },
      },
    );
    unsubscribe = () => sub.unsubscribe();
  };

  /** Loads the snapshot and subscribes; settles once loaded or refused. */
  const start = async () => {
    setError(null);
    try {
      await store.load(subscribe);
    } catch (err) {
      // The store shows other errors with a retry button.
      if (isUnauthorized(err)) refused();
    }
  };
  void start();
  onCleanup(() => unsubscribe());

  return {
    error,
    retry: () => void start(),
    /** A call was refused UNAUTHORIZED: the token in use is no longer good. */
    refused,
    /** Forgets what is shown and starts over with `token` (null: signs out). */
    switchToken(token: string | null) {
      forget();
      access.use(token);
      return start();
    },
  };
}
