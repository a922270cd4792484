import type { OrderChanges, OrderEvent } from '../../../shared/orders.ts';

const FIELD_LABELS: Record<string, string> = {
  customerName: 'customer',
  productName: 'product',
  status: 'status',
};

/** "status: pending → shipped, customer: Ada → Grace" */
export function describeChanges(changes: OrderChanges | undefined): string {
  if (!changes) return '';
  return Object.entries(changes)
    .filter(([field]) => field in FIELD_LABELS)
    .map(([field, change]) => `${FIELD_LABELS[field]}: ${String(change?.from)} → ${String(change?.to)}`)
    .join(', ');
}

/** One line for the activity feed: "Order 42: pending → shipped", "Order 43 created". */
export function describeEvent(event: OrderEvent): string {
  const order = `Order ${event.orderId}`;
  if (event.type === 'created') return `${order} created`;
  if (event.type === 'deleted') return `${order} deleted`;
  const changes = event.changes ?? {};
  const keys = Object.keys(changes);
  if (keys.length === 1 && changes.status) return `${order}: ${changes.status.from} → ${changes.status.to}`;
  return keys.length ? `${order}: ${describeChanges(changes)}` : `${order} updated`;
}
