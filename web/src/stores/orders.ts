import { batch, createSignal } from 'solid-js';
import { createStore } from 'solid-js/store';
import type { LiveOrdersStore } from 'live-orders-client/solid';
import type { Order, OrderEvent } from '../../../shared/orders.ts';
import { createPendingChanges, type PendingMark } from './pending-changes.ts';

/** How long a changed row stays highlighted. */
export const HIGHLIGHT_MS = 1_600;

export type RowMark = 'created' | 'updated' | PendingMark;

const EMPTY: Record<string, Order> = {};

/**
 * Every order the page shows: the client library's live copy (through its Solid binding),
 * with this page's unconfirmed changes laid over it, and a brief highlight on what changed.
 * `attach` switches to another live copy (another token); the page's own state stays.
 */
export function createOrdersStore() {
  const [live, setLive] = createSignal<LiveOrdersStore | null>(null);
  const pending = createPendingChanges(() => live()?.orders ?? EMPTY);
  const [highlights, setHighlights] = createStore<Record<string, 'created' | 'updated' | undefined>>({});
  const timers = new Map<string, ReturnType<typeof setTimeout>>();

  const highlight = (id: string, value: 'created' | 'updated') => {
    clearTimeout(timers.get(id));
    setHighlights(id, value);
    timers.set(
      id,
      setTimeout(() => {
        timers.delete(id);
        setHighlights(id, undefined);
      }, HIGHLIGHT_MS),
    );
  };

  return {
    /** The rows to show, by id. */
    orders: pending.shown,
    mark: (id: string): RowMark | undefined => pending.mark(id) ?? highlights[id],
    loaded: () => live()?.loaded() ?? false,
    live,
    pending,
    /** Called with each batch of live changes (see createLiveOrdersStore's onChanges). */
    changed(events: readonly OrderEvent[]) {
      for (const event of events) if (event.type !== 'deleted') highlight(event.orderId, event.type);
      pending.observe(events);
    },
    attach(next: LiveOrdersStore | null) {
      batch(() => {
        for (const timer of timers.values()) clearTimeout(timer);
        timers.clear();
        setLive(next);
      });
    },
  };
}

export type OrdersStore = ReturnType<typeof createOrdersStore>;
