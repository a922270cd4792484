import { batch, createSignal } from 'solid-js';
import { createStore, produce, reconcile } from 'solid-js/store';
import type { Order, OrderEvent } from '../../../shared/orders.ts';
import { MAX_PAGE_SIZE } from '../../../shared/protocol.ts';
import { trpc } from '../lib/trpc.ts';

/** How long a changed row stays highlighted, and a deleted one stays on screen fading out. */
export const HIGHLIGHT_MS = 1_600;
const LEAVE_MS = 700;

export type RowMark = 'created' | 'updated' | 'leaving';

/**
 * Every order the page knows, keyed by id. Snapshot pages and live events both merge into
 * it by version, so whichever arrives first, the newer state wins and no row is doubled.
 */
export function createOrdersStore() {
  const [orders, setOrders] = createStore<Record<string, Order>>({});
  const [marks, setMarks] = createStore<Record<string, RowMark | undefined>>({});
  const [loaded, setLoaded] = createSignal(false);
  const [loadError, setLoadError] = createSignal<string | null>(null);
  // Ids deleted since the first snapshot: a later snapshot page, taken before the delete
  // committed, may still hold the row and must not bring it back.
  const deleted = new Set<string>();
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  // Bumped by reset(): a load still running for an earlier session must not write here.
  let generation = 0;

  const mark = (id: string, value: RowMark, then?: () => void) => {
    clearTimeout(timers.get(id));
    setMarks(id, value);
    timers.set(
      id,
      setTimeout(
        () => {
          timers.delete(id);
          batch(() => {
            setMarks(id, undefined);
            then?.();
          });
        },
        value === 'leaving' ? LEAVE_MS : HIGHLIGHT_MS,
      ),
    );
  };

  /** Puts `order` in unless the row already holds this version or a newer one. */
  const upsert = (order: Order, highlight: RowMark | null): boolean => {
    if (deleted.has(order.id)) return false;
    const current = orders[order.id];
    if (current && current.version >= order.version) return false;
    if (current) setOrders(order.id, reconcile(order));
    else setOrders(order.id, order);
    if (highlight) mark(order.id, highlight);
    return true;
  };

  const remove = (id: string) => {
    deleted.add(id);
    if (!orders[id]) return;
    // The row fades out briefly so the eye catches what went away.
    mark(id, 'leaving', () =>
      setOrders(
        produce((all) => {
          delete all[id];
        }),
      ),
    );
  };

  /** Applies one change; safe to apply twice or after a snapshot that already holds it. */
  const apply = (event: OrderEvent) => {
    if (event.type === 'deleted') remove(event.orderId);
    else upsert(event.order, event.type === 'created' ? 'created' : 'updated');
  };

  /** Merges snapshot rows in one store write: thousands of single writes each wake every reader. */
  const mergeSnapshot = (rows: Order[]) => {
    const merge: Record<string, Order> = {};
    for (const order of rows) {
      const current = orders[order.id];
      if (!deleted.has(order.id) && (!current || current.version < order.version)) merge[order.id] = order;
    }
    setOrders(merge);
  };

  /**
   * Reads the snapshot page by page and calls `onFirstPage` with the first page's
   * `lastEventId`, the point the live subscription must start from so nothing falls between.
   * Later pages are newer snapshots; merging by version (after the events that arrived
   * meanwhile) keeps them right. They are merged together at the end so the table sorts
   * and redraws once, not once per page.
   */
  const load = async (onFirstPage: (lastEventId: string) => void) => {
    const mine = generation;
    setLoadError(null);
    try {
      const first = await trpc.orders.list.query({ limit: MAX_PAGE_SIZE });
      if (mine !== generation) return;
      mergeSnapshot(first.orders);
      onFirstPage(first.lastEventId);
      const rest: Order[] = [];
      for (let cursor = first.nextCursor; cursor; ) {
        const page = await trpc.orders.list.query({ limit: MAX_PAGE_SIZE, cursor });
        if (mine !== generation) return;
        rest.push(...page.orders);
        cursor = page.nextCursor;
      }
      mergeSnapshot(rest);
      setLoaded(true);
    } catch (err) {
      if (mine !== generation) return;
      setLoadError(err instanceof Error ? err.message : String(err));
      throw err;
    }
  };

  /** Forgets every order (signing out, or another token): the next load starts afresh. */
  const reset = () => {
    generation++;
    for (const timer of timers.values()) clearTimeout(timer);
    timers.clear();
    deleted.clear();
    batch(() => {
      setOrders(
        produce((all) => {
          for (const id of Object.keys(all)) delete all[id];
        }),
      );
      setMarks(
        produce((all) => {
          for (const id of Object.keys(all)) delete all[id];
        }),
      );
      setLoaded(false);
      setLoadError(null);
    });
  };

  return {
    orders,
    marks,
    loaded,
    loadError,
    apply,
    /** For a mutation's own result: shows it at once; its event then changes nothing. */
    upsert: (order: Order, highlight: RowMark) => upsert(order, highlight),
    load,
    reset,
  };
}

export type OrdersStore = ReturnType<typeof createOrdersStore>;
