import { batch, createSignal, onCleanup } from 'solid-js';
import type { OrderEvent } from '../../../shared/orders.ts';
import { trpc } from '../lib/trpc.ts';
import type { Connection } from './connection.ts';
import type { Feed } from './feed.ts';
import type { OrdersStore } from './orders.ts';

/**
 * Snapshot, then changes: `orders.list` page by page, and `orders.onChange` from the first
 * page's `lastEventId`, so no change falls between the two. After a dropped socket the tRPC
 * client resubscribes from the last id it delivered, and the server replays the gap.
 */
export function startLiveSync(store: OrdersStore, feed: Feed, connection: Connection) {
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

  const subscribe = (lastEventId: string) => {
    unsubscribe(); // a retried load starts over from its own snapshot
    connection.start(lastEventId);
    const sub = trpc.orders.onChange.subscribe(
      { lastEventId },
      {
        onData({ data }) {
          if (queue.push(data) === 1) setTimeout(flush, 0);
        },
        onError(err) {
          setError(`Live updates stopped: ${err.message}. Reload the page to resume.`);
        },
      },
    );
    unsubscribe = () => sub.unsubscribe();
  };

  const start = () => {
    setError(null);
    store.load(subscribe).catch(() => {
      // The store shows the error with a retry button.
    });
  };
  start();
  onCleanup(() => unsubscribe());

  return { error, retry: start };
}
