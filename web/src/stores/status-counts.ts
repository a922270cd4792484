import type { Api } from 'live-orders-client';
import { applyCountMoves, zeroCounts, type StatusCounts } from '../../../shared/order-counts.ts';
import { createLiveAggregate } from './live-aggregate.ts';

/**
 * Orders per status, live and exact: `orders.counts` at its position, then moved by each
 * live event after it (never recounted from the rows, so they check each other).
 */
export function createStatusCounts(api: () => Api) {
  return createLiveAggregate<StatusCounts>({
    empty: zeroCounts,
    read: async () => {
      const { counts, lastEventId } = await api().orders.counts.query({});
      return { value: counts, lastEventId };
    },
    apply: applyCountMoves,
  });
}

export type LiveStatusCounts = ReturnType<typeof createStatusCounts>;
