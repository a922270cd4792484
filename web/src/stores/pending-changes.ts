import { createMemo, createSignal } from 'solid-js';
import { createStore, produce } from 'solid-js/store';
import type { Order, OrderEvent } from '../../../shared/orders.ts';

/**
 * Changes made on this page that the server has not confirmed yet. Each is shown at once
 * (optimistic), marked pending; it is confirmed by the event that carries it (or a newer
 * state) and rolled back if the server refuses it.
 */
export type PendingChange =
  /**
   * `key` is a temporary id until the server answers with `saved`. `claimed`: the id of a
   * created event that looks like this one and came before the answer (a slow HTTP answer,
   * a fast WebSocket), so the row is not shown twice meanwhile.
   */
  | { kind: 'create'; key: string; order: Order; saved: Order | null; claimed: string | null }
  /** `fields` are laid over the current row, so others' changes meanwhile still show. */
  | { kind: 'update'; key: string; order: Order; fields: OrderFields; saved: Order | null }
  | { kind: 'delete'; key: string; order: Order; saved: boolean };

type OrderFields = Partial<Pick<Order, 'status' | 'customerName' | 'productName'>>;

export type PendingMark = 'pending' | 'deleting';

/** Temporary ids of creates not yet answered: never a number, so never an order's id. */
export const isTemporaryId = (id: string) => id.startsWith('new-');

export function createPendingChanges(base: () => Record<string, Order>) {
  const [pending, setPending] = createStore<Record<string, PendingChange>>({});
  // What the events said about each order since the first pending change: an event may
  // arrive before the mutation's own answer, and a row may be gone again by then.
  const seen = new Map<string, number | 'deleted'>();
  const [count, setCount] = createSignal(0);
  let nextKey = 1;

  const confirmed = (change: PendingChange): boolean => {
    if (!change.saved) return false;
    const id = change.kind === 'create' ? (change.saved as Order).id : change.key;
    const last = seen.get(id);
    if (last === 'deleted') return true;
    if (change.kind === 'delete') return !base()[id];
    const version = (change.saved as Order).version;
    return (base()[id]?.version ?? 0) >= version || (last ?? 0) >= version;
  };

  const drop = (key: string) => {
    setPending(
      produce((all) => {
        delete all[key];
      }),
    );
    setCount(Object.keys(pending).length);
    if (count() === 0) seen.clear();
  };

  /** Drops every change its event (or a snapshot) has confirmed. */
  const settle = () => {
    for (const change of Object.values(pending)) if (confirmed(change)) drop(change.key);
  };

  const claim = (order: Order) => {
    const claimed = new Set(Object.values(pending).flatMap((c) => (c.kind === 'create' && c.claimed ? [c.claimed] : [])));
    if (claimed.has(order.id)) return;
    const mine = Object.values(pending).find(
      (c) =>
        c.kind === 'create' &&
        !c.saved &&
        c.claimed === null &&
        c.order.customerName === order.customerName &&
        c.order.productName === order.productName &&
        c.order.status === order.status,
    );
    if (mine) setPending(mine.key, 'claimed' as never, order.id as never);
  };

  const add = (change: PendingChange) => {
    setPending(change.key, change);
    setCount(Object.keys(pending).length);
  };

  /** The rows to show: the live copy with every pending change laid over it. */
  const shown = createMemo((): Record<string, Order> => {
    const rows = base();
    const changes = Object.values(pending);
    if (!changes.length) return rows;
    const out = { ...rows };
    for (const change of changes) {
      if (change.kind === 'create') {
        if (change.saved) out[change.saved.id] ??= change.saved;
        else if (change.claimed === null || !out[change.claimed]) out[change.key] = change.order;
      } else if (change.kind === 'update') {
        const current = rows[change.key] ?? change.order;
        out[change.key] = change.saved && change.saved.version >= current.version ? change.saved : { ...current, ...change.fields };
      } else if (!out[change.key]) {
        out[change.key] = change.order; // still shown, struck through, until the delete is confirmed
      }
    }
    return out;
  });

  const marks = createMemo(() => {
    const byId = new Map<string, PendingMark>();
    for (const change of Object.values(pending)) {
      const id = change.kind === 'create' ? (change.saved?.id ?? change.claimed ?? change.key) : change.key;
      byId.set(id, change.kind === 'delete' ? 'deleting' : 'pending');
    }
    return byId;
  });

  /**
   * Runs `send` with the change shown at once. Resolves with the server's answer, or rejects
   * with its error after rolling the change back.
   */
  async function run<T>(change: PendingChange, send: () => Promise<T>, saved: (answer: T) => PendingChange['saved']): Promise<T> {
    add(change);
    try {
      const answer = await send();
      if (pending[change.key]) {
        setPending(change.key, 'saved', saved(answer) as never);
        settle();
      }
      return answer;
    } catch (err) {
      drop(change.key);
      throw err;
    }
  }

  return {
    shown,
    /** 'pending' or 'deleting' for a row with an unconfirmed change. */
    mark: (id: string): PendingMark | undefined => marks().get(id),
    /** How many changes are not confirmed yet. */
    count,
    create(order: Omit<Order, 'id' | 'version' | 'createdAt' | 'updatedAt'>, send: () => Promise<Order>) {
      const now = new Date().toISOString();
      const key = `new-${nextKey++}`;
      const shown = { ...order, customerName: order.customerName.trim(), productName: order.productName.trim() };
      return run({ kind: 'create', key, order: { ...shown, id: key, version: 0, createdAt: now, updatedAt: now }, saved: null, claimed: null }, send, (o) => o);
    },
    update(order: Order, fields: OrderFields, send: () => Promise<Order>) {
      return run({ kind: 'update', key: order.id, order, fields, saved: null }, send, (o) => o);
    },
    remove(order: Order, send: () => Promise<unknown>) {
      return run({ kind: 'delete', key: order.id, order, saved: false }, send, () => true);
    },
    /** Call with each batch of live changes (after the copy took them) and after a snapshot. */
    observe(events: readonly OrderEvent[]) {
      if (count() > 0) {
        for (const event of events) {
          if (event.type === 'created') claim(event.order);
          const last = seen.get(event.orderId);
          if (event.type === 'deleted') seen.set(event.orderId, 'deleted');
          else if (last !== 'deleted' && (last ?? 0) < event.order.version) seen.set(event.orderId, event.order.version);
        }
      }
      settle();
    },
  };
}

export type PendingChanges = ReturnType<typeof createPendingChanges>;
