/**
 * Every status an order can have, in the order a shop moves through them. Kept apart from the
 * zod schemas in orders.ts so the page can import the list without bundling zod.
 */
export const ORDER_STATUSES = ['pending', 'confirmed', 'shipped', 'delivered', 'cancelled'] as const;

export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** What a new order is when its creator names no status. */
export const DEFAULT_ORDER_STATUS: OrderStatus = 'pending';

/** Each status as the page and the tail show it. */
export const STATUS_LABELS: Record<OrderStatus, string> = {
  pending: 'Pending',
  confirmed: 'Confirmed',
  shipped: 'Shipped',
  delivered: 'Delivered',
  cancelled: 'Cancelled',
};
