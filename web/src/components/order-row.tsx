import { createSignal, Show } from 'solid-js';
import type { Order } from '../../../shared/orders.ts';
import { ORDER_STATUSES, STATUS_LABELS, type OrderStatus } from '../../../shared/order-status.ts';
import { formatDateTime, formatWhen } from '../lib/format-time.ts';
import type { RowMark } from '../stores/orders.ts';
import { isTemporaryId } from '../stores/pending-changes.ts';

// Static markup, cloned per row: with hundreds of rows on screen, building the options through
// a reactive loop per row doubled the time to draw the table.
const statusOptions = document.createElement('template');
statusOptions.innerHTML = ORDER_STATUSES.map((s) => `<option value="${s}">${STATUS_LABELS[s]}</option>`).join('');

export type RowActions = {
  changeStatus(order: Order, status: OrderStatus): Promise<boolean>;
  askDelete(order: Order): void;
  showHistory(orderId: string): void;
};

/**
 * One order; every cell reads the store directly, so a change repaints only its own cells.
 * `readOnly` (a reader's token) disables the status select and Delete; History stays. A row
 * with a change of this page's not yet confirmed (`mark` pending or deleting) says so and
 * takes no further change until it is.
 */
export function OrderRow(props: { order: Order; mark: RowMark | undefined; actions: RowActions; readOnly: boolean }) {
  const [saving, setSaving] = createSignal(false);
  const unconfirmed = () => props.mark === 'pending' || props.mark === 'deleting';
  const temporary = () => isTemporaryId(props.order.id);
  const onStatus = async (select: HTMLSelectElement) => {
    setSaving(true);
    const ok = await props.actions.changeStatus(props.order, select.value as OrderStatus);
    setSaving(false);
    // A refused change is rolled back in the store; the select is put back by hand too, as
    // the row may be the same one that showed the change.
    if (!ok) select.value = props.order.status;
  };
  return (
    <tr data-testid="order-row" data-order-id={props.order.id} data-version={props.order.version} data-mark={props.mark}>
      <th scope="row" class="num cell-id">
        {temporary() ? '…' : props.order.id}
      </th>
      <td class="cell-text cell-customer">
        {props.order.customerName}
      </td>
      <td class="cell-text cell-product">
        {props.order.productName}
      </td>
      <td class="cell-status">
        <select
          class="status-select"
          data-status={props.order.status}
          aria-label={`Status of order ${props.order.id}`}
          value={props.order.status}
          disabled={props.readOnly || saving() || unconfirmed()}
          onChange={(e) => void onStatus(e.currentTarget)}
        >
          {statusOptions.content.cloneNode(true)}
        </select>
      </td>
      <td class="num cell-version">
        <span class="phone-only">v</span>
        {props.order.version}
      </td>
      <td class="cell-time">
        <Show
          when={unconfirmed()}
          fallback={
            <time datetime={props.order.updatedAt} title={formatDateTime(props.order.updatedAt)}>
              {formatWhen(props.order.updatedAt)}
            </time>
          }
        >
          <span class="pending-note" data-testid="pending-note">
            {props.mark === 'deleting' ? 'Deleting…' : 'Saving…'}
          </span>
        </Show>
      </td>
      <td class="cell-actions">
        <button
          type="button"
          class="button button--small"
          onClick={() => props.actions.showHistory(props.order.id)}
          disabled={temporary()}
          aria-label={`History of order ${props.order.id}`}
        >
          History
        </button>
        <button
          type="button"
          class="button button--small button--danger"
          onClick={() => props.actions.askDelete(props.order)}
          disabled={props.readOnly || unconfirmed()}
          aria-label={`Delete order ${props.order.id}`}
        >
          Delete
        </button>
      </td>
    </tr>
  );
}
