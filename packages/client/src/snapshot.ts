import type { EventFilter, Order } from '../../../shared/orders.ts';
import { MAX_PAGE_SIZE } from '../../../shared/protocol.ts';
import type { Api } from './links.ts';
import { OrdersCopy } from './orders-copy.ts';

/**
 * Reads the orders (`orders.list`, page by page) into a fresh copy. `firstPageIn` gets the
 * copy and the first page's `resumeId` (its `lastEventId`, naming
 * the event) as soon as that page is in, so the subscription can
 * start from there: no change falls between. Later pages are newer snapshots, and merging by
 * version keeps the copy right whatever order pages and changes arrive in.
 *
 * Resolves with the complete copy, or null once `isCurrent()` says the read was abandoned;
 * rejects with the query's error.
 */
export async function readSnapshot(
  api: Api,
  filter: EventFilter | undefined,
  isCurrent: () => boolean,
  firstPageIn: (copy: OrdersCopy, resumeId: string) => void,
): Promise<OrdersCopy | null> {
  const { status, orderId } = filter ?? {};
  // The server filters pages by status only; one order's copy is cut here.
  const keep = (rows: Order[]) => (orderId === undefined ? rows : rows.filter((o) => o.id === orderId));
  const copy = new OrdersCopy();
  const first = await api.orders.list.query({ limit: MAX_PAGE_SIZE, status });
  if (!isCurrent()) return null;
  copy.mergePage(keep(first.orders));
  firstPageIn(copy, first.resumeId);
  for (let cursor = first.nextCursor; cursor; ) {
    const page = await api.orders.list.query({ limit: MAX_PAGE_SIZE, status, cursor });
    if (!isCurrent()) return null;
    copy.mergePage(keep(page.orders));
    cursor = page.nextCursor;
  }
  copy.snapshotComplete();
  return copy;
}
