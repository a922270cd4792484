import { listEventsInput } from '../../shared/orders.ts';
import { readLogPage } from '../db/events.ts';
import { readProcedure, router } from '../trpc/init.ts';

export const eventsRouter = router({
  /**
   * The log in position order; pass `lastEventId` as `after` for the next page. Without
   * `after`, from the oldest event the log still holds. An `after` the log cannot serve
   * without a gap (pruned past, or ahead of the log) is PRECONDITION_FAILED.
   */
  list: readProcedure.input(listEventsInput).query(async ({ ctx, input }) => {
    const page = await readLogPage(ctx.db, input.after ?? null, input.limit);
    return { events: page.events, lastEventId: page.events.at(-1)?.id ?? page.after };
  }),
});
