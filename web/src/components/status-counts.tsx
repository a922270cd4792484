import { For } from 'solid-js';
import { ORDER_STATUSES, STATUS_LABELS, type OrderStatus } from '../../../shared/order-status.ts';
import { totalOf, type StatusCounts } from '../../../shared/order-counts.ts';

const count = new Intl.NumberFormat();

/**
 * Orders per status, one tile each, and the total. A tile filters the table to its status
 * (pressed again, or the total, shows all). `counts` null: not known yet.
 */
export function StatusCountTiles(props: { counts: StatusCounts | null; selected: OrderStatus | ''; onSelect: (status: OrderStatus | '') => void; label: string }) {
  const shown = (n: number | undefined) => (props.counts === null || n === undefined ? '…' : count.format(n));
  return (
    <section class="counts" aria-label={props.label} data-testid="status-counts" aria-busy={props.counts === null}>
      <button type="button" class="count count--total" aria-pressed={props.selected === ''} onClick={() => props.onSelect('')} data-testid="count-total">
        <span class="count__label">All orders</span>
        <span class="count__value">{shown(props.counts ? totalOf(props.counts) : undefined)}</span>
      </button>
      <For each={ORDER_STATUSES}>
        {(status) => (
          <button
            type="button"
            class="count"
            data-status={status}
            data-testid="count"
            aria-pressed={props.selected === status}
            onClick={() => props.onSelect(props.selected === status ? '' : status)}
          >
            <span class="count__label">
              <span class="count__dot" aria-hidden="true" />
              {STATUS_LABELS[status]}
            </span>
            <span class="count__value">{shown(props.counts?.[status])}</span>
          </button>
        )}
      </For>
    </section>
  );
}
