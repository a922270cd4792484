import { listEventsInput } from '../../shared/orders.ts';
import { readEventsAfter } from '../db/events.ts';
import { readProcedure, router } from '../trpc/init.ts';

export const eventsRouter = router({
  /** The log in position order; pass `lastEventId` as `after` for the next page. */
  list: readProcedure.input(listEventsInput).query(async ({ ctx, input }) => {
    const after = input.after ?? '0';
    const events = await readEventsAfter(ctx.db, after, input.limit);
    return { events, lastEventId: events[events.length - 1]?.id ?? after };
  }),
});
