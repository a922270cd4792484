import type { Order, OrderEvent } from '../../../shared/orders.ts';

/**
 * A copy of the orders table, built from snapshot pages and events and merged by order
 * version, so whichever arrives first, the newer state wins and nothing is set back.
 *
 * While the snapshot is still being read, later pages are newer than the position the
 * subscription started from; an order deleted meanwhile may still be on such a page, so
 * deleted ids are remembered until the snapshot is complete.
 */
export class OrdersCopy {
  readonly orders = new Map<string, Order>();
  #deletedWhileLoading: Set<string> | null = new Set();

  /** Merges one snapshot page. */
  mergePage(rows: readonly Order[]): void {
    for (const order of rows) this.#upsert(order);
  }

  /** The snapshot is complete: from here on events alone keep the copy right. */
  snapshotComplete(): void {
    this.#deletedWhileLoading = null;
  }

  /** Applies one event; false when the copy already held this state or a newer one. */
  apply(event: OrderEvent): boolean {
    if (event.type !== 'deleted') return this.#upsert(event.order);
    this.#deletedWhileLoading?.add(event.orderId);
    return this.orders.delete(event.orderId);
  }

  #upsert(order: Order): boolean {
    if (this.#deletedWhileLoading?.has(order.id)) return false;
    const current = this.orders.get(order.id);
    if (current && current.version >= order.version) return false;
    this.orders.set(order.id, order);
    return true;
  }
}
