import { STATUS_LABELS, type OrderStatus } from '../../../shared/order-status.ts';

export function StatusPill(props: { status: OrderStatus }) {
  return (
    <span class="pill" data-status={props.status}>
      {STATUS_LABELS[props.status]}
    </span>
  );
}
