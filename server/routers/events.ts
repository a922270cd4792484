import { listEventsInput, positionAtInput } from '../../shared/orders.ts';
import { logHead, readLogPage } from '../db/events.ts';
import { positionAt } from '../db/position-at.ts';
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

  /**
   * Where the log's head is: the position a snapshot read now would carry as `lastEventId`,
   * without reading any rows. Clients ask it to start at the live end, to count a catch-up,
   * and to check the server is back before subscribing again. `resumeId` names the head's
   * event as well (shared/resume-id.ts): subscribe from it to be told if the log's history
   * changes under you.
   */
  head: readProcedure.query(async ({ ctx }) => {
    const head = await logHead(ctx.db);
    return { lastEventId: head.position, resumeId: head.resumeId };
  }),

  /**
   * The log's position at a time: right before the first event after it (db/position-at.ts).
   * Pass it as `asOf` to see the orders as they were then.
   */
  positionAt: readProcedure.input(positionAtInput).query(({ ctx, input }) => positionAt(ctx.db, new Date(input.at))),
});
