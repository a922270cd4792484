import { createMemo, createSignal, type Accessor } from 'solid-js';
import type { Order } from '../../../shared/orders.ts';
import { ORDER_STATUSES, type OrderStatus } from '../../../shared/order-status.ts';
import { compareDecimalIds } from '../../../shared/positions.ts';

export type SortColumn = 'id' | 'customerName' | 'productName' | 'status' | 'version' | 'updatedAt';
export type SortDirection = 'ascending' | 'descending';

/**
 * Rows rendered at first and added per "show more". Measured with 5,000 orders in headless
 * Chromium on a 2-core box: a re-sort that redraws 200 rows took ~200 ms (script, style and
 * layout about evenly); 100 rows keeps it near 100 ms.
 */
export const PAGE_ROWS = 100;

const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });
const statusRank = Object.fromEntries(ORDER_STATUSES.map((s, i) => [s, i])) as Record<OrderStatus, number>;

type Keyed = { order: Order; key: string | number };

/**
 * The ids of the rows, tracked as a set (a row added or removed). `Reflect.ownKeys` asks the
 * store's proxy one question; `Object.keys` asks it about every key (its descriptor), which
 * with 2,000 orders and 50 changes a second was most of the page's script time (npm run
 * bench:page -- --profile). The store's own symbols are left out.
 */
const idsOf = (rows: Record<string, Order>): string[] => Reflect.ownKeys(rows).filter((k): k is string => typeof k === 'string');

function sortKey(order: Order, column: SortColumn): string | number {
  switch (column) {
    case 'status':
      return statusRank[order.status];
    case 'version':
      return order.version;
    default:
      return order[column];
  }
}

/**
 * The table's view of the store: filtered by status and text, sorted, and cut to the rows
 * shown. Each step is its own memo so typing in the search box does not re-sort, and a live
 * change re-runs only what it touches.
 */
export function createOrderView(orders: () => Record<string, Order>) {
  const [sort, setSort] = createSignal<{ column: SortColumn; direction: SortDirection }>({ column: 'id', direction: 'descending' });
  const [status, setStatus] = createSignal<OrderStatus | ''>('');
  const [search, setSearch] = createSignal('');
  const [limit, setLimit] = createSignal(PAGE_ROWS);

  // Sort once per change of data or sort order; keys are read once per row, not per comparison.
  const sorted = createMemo(() => {
    const { column, direction } = sort();
    if (column === 'id') {
      // By id (the default): the ids alone decide; no row's fields need reading.
      const rows = orders();
      const ids = idsOf(rows).sort(compareDecimalIds);
      if (direction === 'descending') ids.reverse();
      return ids.map((id) => rows[id]!);
    }
    const keyed: Keyed[] = Object.values(orders()).map((order) => ({ order, key: sortKey(order, column) }));
    const sign = direction === 'ascending' ? 1 : -1;
    const textual = column === 'customerName' || column === 'productName';
    keyed.sort((a, b) => {
      const c = textual ? collator.compare(a.key as string, b.key as string) : a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
      // Ties fall back to the id, so equal keys keep a stable, predictable order.
      return sign * (c || compareDecimalIds(a.order.id, b.order.id));
    });
    return keyed.map((k) => k.order);
  });

  const filtered: Accessor<Order[]> = createMemo(() => {
    const wanted = status();
    const needle = search().trim().toLowerCase();
    if (!wanted && !needle) return sorted();
    return sorted().filter(
      (o) =>
        (!wanted || o.status === wanted) &&
        (!needle ||
          o.id === needle ||
          o.customerName.toLowerCase().includes(needle) ||
          o.productName.toLowerCase().includes(needle)),
    );
  });

  const visible = createMemo(() => filtered().slice(0, limit()));

  return {
    sort,
    toggleSort(column: SortColumn) {
      setSort((s) =>
        s.column === column
          ? { column, direction: s.direction === 'ascending' ? 'descending' : 'ascending' }
          : { column, direction: column === 'updatedAt' || column === 'id' ? 'descending' : 'ascending' },
      );
    },
    status,
    setStatus(value: OrderStatus | '') {
      setStatus(value);
      setLimit(PAGE_ROWS);
    },
    search,
    setSearch(value: string) {
      setSearch(value);
      setLimit(PAGE_ROWS);
    },
    filtered,
    visible,
    total: createMemo(() => idsOf(orders()).length),
    showMore: () => setLimit((n) => n + PAGE_ROWS),
  };
}

export type OrderView = ReturnType<typeof createOrderView>;
