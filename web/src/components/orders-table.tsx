import { For, Show } from 'solid-js';
import { ORDER_STATUSES, STATUS_LABELS, type OrderStatus } from '../../../shared/order-status.ts';
import type { OrderView, SortColumn } from '../stores/order-view.ts';
import { PAGE_ROWS } from '../stores/order-view.ts';
import type { OrdersStore } from '../stores/orders.ts';
import { OrderRow, type RowActions } from './order-row.tsx';

const COLUMNS: Array<{ column: SortColumn; label: string; numeric?: boolean }> = [
  { column: 'id', label: 'ID', numeric: true },
  { column: 'customerName', label: 'Customer' },
  { column: 'productName', label: 'Product' },
  { column: 'status', label: 'Status' },
  { column: 'version', label: 'Version', numeric: true },
  { column: 'updatedAt', label: 'Updated' },
];

const count = new Intl.NumberFormat();

export function OrdersTable(props: { store: Pick<OrdersStore, 'loaded' | 'mark'>; view: OrderView; actions: RowActions; readOnly: boolean; past?: boolean }) {
  const view = () => props.view;
  const ariaSort = (column: SortColumn) => (view().sort().column === column ? view().sort().direction : 'none');
  const shown = () => view().visible().length;
  const matching = () => view().filtered().length;

  return (
    <section class="card orders" aria-labelledby="orders-title">
      <div class="orders__head">
        <h2 id="orders-title">{props.past ? 'Orders then' : 'Orders'}</h2>
        <p class="muted" role="status" data-testid="orders-count">
          <Show when={props.store.loaded()} fallback="Loading orders…">
            {matching() === view().total()
              ? `${count.format(view().total())} ${view().total() === 1 ? 'order' : 'orders'}`
              : `${count.format(matching())} of ${count.format(view().total())} orders match`}
          </Show>
        </p>
      </div>
      <div class="toolbar">
        <div class="field field--grow">
          <label for="orders-search">Search</label>
          <input
            id="orders-search"
            type="search"
            placeholder="Customer, product or order ID"
            value={view().search()}
            onInput={(e) => view().setSearch(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="orders-status">Status</label>
          <select id="orders-status" value={view().status()} onChange={(e) => view().setStatus(e.currentTarget.value as OrderStatus | '')}>
            <option value="">All statuses</option>
            <For each={ORDER_STATUSES}>{(s) => <option value={s}>{STATUS_LABELS[s]}</option>}</For>
          </select>
        </div>
      </div>

      <div class="table-scroll" role="region" aria-labelledby="orders-title" tabindex="0">
        <table class="table" data-testid="orders-table">
          <caption class="visually-hidden">{props.past ? 'Orders as they were at the moment shown.' : 'Orders, live.'} Column headers sort the table.</caption>
          <colgroup>
            <col class="col-id" />
            <col />
            <col />
            <col class="col-status" />
            <col class="col-version" />
            <col class="col-updated" />
            <col class="col-actions" />
          </colgroup>
          <thead>
            <tr>
              <For each={COLUMNS}>
                {(c) => (
                  <th scope="col" aria-sort={ariaSort(c.column)} classList={{ num: !!c.numeric }}>
                    <button type="button" class="sort" onClick={() => view().toggleSort(c.column)}>
                      {c.label}
                      <span class="sort__icon" aria-hidden="true">
                        {ariaSort(c.column) === 'ascending' ? '▲' : ariaSort(c.column) === 'descending' ? '▼' : '↕'}
                      </span>
                    </button>
                  </th>
                )}
              </For>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            <For each={view().visible()}>
              {(order) => <OrderRow order={order} mark={props.store.mark(order.id)} actions={props.actions} readOnly={props.readOnly} />}
            </For>
          </tbody>
        </table>
        <Show when={props.store.loaded() && matching() === 0}>
          <p class="empty">{view().total() === 0 ? (props.past ? 'There were no orders at this moment.' : 'No orders yet. Create the first one above.') : 'No orders match this search.'}</p>
        </Show>
      </div>
      <Show when={matching() > shown()}>
        <div class="more">
          <span class="muted">
            Showing {count.format(shown())} of {count.format(matching())}
          </span>
          <button type="button" class="button" onClick={() => view().showMore()}>
            Show {count.format(Math.min(PAGE_ROWS, matching() - shown()))} more
          </button>
        </div>
      </Show>
    </section>
  );
}
