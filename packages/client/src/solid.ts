import { batch, createSignal, onCleanup, type Accessor } from 'solid-js';
import { createStore, reconcile } from 'solid-js/store';
import type { OrderCounts } from '../../../shared/order-counts.ts';
import type { Order, OrderEvent } from '../../../shared/orders.ts';
import type { Transport } from './links.ts';
import type { ConnectionState, LiveOrders, LiveOrdersEvents, ResyncNotice } from './live-orders.ts';

export type LiveOrdersStore = {
  /** The copy as a Solid store keyed by order id: a change touches only its own row. */
  orders: Record<string, Order>;
  /** The first snapshot is in. */
  loaded: Accessor<boolean>;
  state: Accessor<ConnectionState>;
  transport: Accessor<Transport>;
  caughtUp: Accessor<number | null>;
  /** The orders per status (the library's `counts`), exact at their `lastEventId`; null before they are read. */
  counts: Accessor<OrderCounts | null>;
  /** The last resync, until `dismissResync()`. */
  resynced: Accessor<ResyncNotice | null>;
  dismissResync(): void;
  /** The last error; cleared once live again. */
  error: Accessor<LiveOrdersEvents['error'] | null>;
};

/**
 * A Solid view of a LiveOrders: its copy reconciled by key into a store, its state as
 * signals. The copy itself stays in the library, so a page and a Node app run the same
 * merge. Call inside a reactive owner (a component, createRoot): it stops listening on cleanup.
 *
 * `onChanges` gets each batch of changes (none after a snapshot) inside the same Solid batch
 * as the store update.
 */
export function createLiveOrdersStore(live: LiveOrders, options: { onChanges?: (events: OrderEvent[]) => void } = {}): LiveOrdersStore {
  const [orders, setOrders] = createStore<Record<string, Order>>({});
  const [loaded, setLoaded] = createSignal(false);
  const [state, setState] = createSignal(live.state);
  const [transport, setTransport] = createSignal(live.transport);
  const [caughtUp, setCaughtUp] = createSignal(live.caughtUp);
  const [counts, setCounts] = createSignal(live.counts);
  const [resynced, setResynced] = createSignal<ResyncNotice | null>(null);
  const [error, setError] = createSignal<LiveOrdersEvents['error'] | null>(null);

  // A reconnect replays hundreds of changes back to back; applying them once per task
  // repaints once instead of once per change.
  let changes: OrderEvent[] = [];
  let snapshot = false;
  // Set with the rows they count, in the same batch: a table and its counts never disagree on screen.
  let latestCounts = live.counts;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const events = changes;
    changes = [];
    const reloaded = snapshot;
    batch(() => {
      setCounts(latestCounts);
      if (snapshot) {
        snapshot = false;
        setOrders(reconcile(Object.fromEntries(live.orders)));
        setLoaded(true);
      } else {
        for (const event of events) {
          // The library's copy has already merged this change by version: read the result.
          const order = live.orders.get(event.orderId);
          setOrders(event.orderId, order ? reconcile(order) : undefined!);
        }
      }
      if (events.length || reloaded) options.onChanges?.(events);
    });
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(flush, 0);
  };

  const stops = [
    live.on('change', (event) => {
      changes.push(event);
      schedule();
    }),
    live.on('snapshot', () => {
      snapshot = true;
      // A new snapshot (a resync) counts afresh: until its counts are read there are none, and
      // the last ones (of the rows it replaces) must not be shown beside its rows.
      latestCounts = live.counts;
      schedule();
    }),
    live.on('state', (next) => {
      batch(() => {
        setState(next);
        setTransport(live.transport);
        if (next === 'live') setError(null);
      });
    }),
    live.on('caught-up', (count) => setCaughtUp(count)),
    live.on('counts', (next) => {
      latestCounts = next;
      schedule();
    }),
    live.on('resynced', (notice) => setResynced(notice)),
    live.on('error', (err) => setError(err)),
  ];
  onCleanup(() => stops.forEach((stop) => stop()));

  return { orders, loaded, state, transport, caughtUp, counts, resynced, dismissResync: () => setResynced(null), error };
}
