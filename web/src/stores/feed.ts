import { createSignal } from 'solid-js';
import type { OrderEvent } from '../../../shared/orders.ts';
import { describeEvent } from 'live-orders-client';

/** Enough to glance at; older entries live in each order's history. */
export const FEED_LENGTH = 20;

export type FeedEntry = { id: string; orderId: string; type: OrderEvent['type']; text: string; at: string };

/** The most recent changes, newest first. */
export function createFeed() {
  const [entries, setEntries] = createSignal<FeedEntry[]>([]);
  const add = (event: OrderEvent) => {
    const entry: FeedEntry = { id: event.id, orderId: event.orderId, type: event.type, text: describeEvent(event), at: event.at };
    setEntries((list) => [entry, ...list].slice(0, FEED_LENGTH));
  };
  return { entries, add, reset: () => setEntries([]) };
}

export type Feed = ReturnType<typeof createFeed>;
