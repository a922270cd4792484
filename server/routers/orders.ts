import { TRPCError, tracked } from '@trpc/server';
import {
  createManyOrdersInput,
  createOrderInput,
  deleteOrderInput,
  listOrdersInput,
  onChangeInput,
  orderByIdInput,
  updateOrderInput,
} from '../../shared/orders.ts';
import { MAX_PAGE_SIZE } from '../../shared/protocol.ts';
import { orderHistory, readEventsAfter } from '../db/events.ts';
import { createOrders, deleteOrder, getOrder, listOrders, updateOrder, writeAs } from '../db/orders.ts';
import { streamEvents } from '../events/stream.ts';
import { waitForRoom } from '../trpc/backpressure.ts';
import { publicProcedure, router } from '../trpc/init.ts';

export const ordersRouter = router({
  list: publicProcedure.input(listOrdersInput).query(({ ctx, input }) => listOrders(ctx.db, input)),

  get: publicProcedure.input(orderByIdInput).query(({ ctx, input }) => getOrder(ctx.db, input.id)),

  create: publicProcedure.input(createOrderInput).mutation(async ({ ctx, input }) => {
    const [order] = await writeAs(ctx.db, ctx.actor, (tx) => createOrders(tx, [input]));
    return order!;
  }),

  createMany: publicProcedure
    .input(createManyOrdersInput)
    .mutation(({ ctx, input }) => writeAs(ctx.db, ctx.actor, (tx) => createOrders(tx, input.orders))),

  update: publicProcedure
    .input(updateOrderInput)
    .mutation(({ ctx, input }) => writeAs(ctx.db, ctx.actor, (tx) => updateOrder(tx, input))),

  delete: publicProcedure
    .input(deleteOrderInput)
    .mutation(({ ctx, input }) => writeAs(ctx.db, ctx.actor, (tx) => deleteOrder(tx, input.id, input.expectedVersion))),

  history: publicProcedure.input(orderByIdInput).query(async ({ ctx, input }) => {
    const events = await orderHistory(ctx.db, input.id);
    if (events.length === 0) throw new TRPCError({ code: 'NOT_FOUND', message: `order ${input.id} not found` });
    return events;
  }),

  /**
   * Every change after `lastEventId` (replayed from the log), then live. The tRPC client
   * puts the last tracked id it saw into `lastEventId` when it reconnects.
   */
  onChange: publicProcedure.input(onChangeInput).subscription(async function* ({ ctx, input, signal }) {
    const { lastEventId, ...filter } = input;
    const readLog = (after: string, limit: number) => readEventsAfter(ctx.db, after, limit, filter);
    const abort = signal ?? new AbortController().signal;
    const events = streamEvents(ctx.hub, readLog, MAX_PAGE_SIZE, { after: lastEventId ?? null, filter, signal: abort });
    for await (const event of events) {
      await waitForRoom(ctx.socket, abort);
      yield tracked(event.id, event);
    }
  }),
});
