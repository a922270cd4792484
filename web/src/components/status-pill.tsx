import type { OrderStatus } from '../../../shared/order-status.ts';

/** Capitalised status words, shared by every control that shows one. */
export const STATUS_LABELS: Record<OrderStatus, string> = {
  pending: 'Pending',
  confirmed: 'Confirmed',
  shipped: 'Shipped',
  delivered: 'Delivered',
  cancelled: 'Cancelled',
};

export function StatusPill(props: { status: OrderStatus }) {
  return (
    <span class="pill" data-status={props.status}>
      {STATUS_LABELS[props.status]}
    </span>
  );
}
