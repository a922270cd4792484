import { TRPCError, tracked } from '@trpc/server';
import {
  createManyOrdersInput,
  createOrderInput,
  deleteOrderInput,
  listOrdersInput,
  onChangeInput,
  orderByIdInput,
  updateOrderInput,
  type OrderEvent,
} from '../../shared/orders.ts';
import { MAX_PAGE_SIZE, MAX_SUBSCRIPTIONS_PER_CONNECTION } from '../../shared/protocol.ts';
import { orderHistory, readEventJsonAfter } from '../db/events.ts';
import { createOrdersAs, deleteOrder, findOrder, getOrder, listOrders, notFound, updateOrder, writeAs } from '../db/orders.ts';
import { streamEvents } from '../events/stream.ts';
import { MAX_BUFFERED_BYTES, waitForRoom } from '../trpc/backpressure.ts';
import { readProcedure, router, writeProcedure } from '../trpc/init.ts';
import { SubscriptionOutlet } from '../trpc/subscription-outlet.ts';

export const ordersRouter = router({
  list: readProcedure.input(listOrdersInput).query(({ ctx, input }) => listOrders(ctx.db, input)),

  get: readProcedure.input(orderByIdInput).query(({ ctx, input }) => getOrder(ctx.db, input.id)),

  create: writeProcedure.input(createOrderInput).mutation(async ({ ctx, input }) => {
    const [order] = await createOrdersAs(ctx.db, ctx.actor, [input]);
    return order!;
  }),

  createMany: writeProcedure
    .input(createManyOrdersInput)
    .mutation(({ ctx, input }) => createOrdersAs(ctx.db, ctx.actor, input.orders)),

  update: writeProcedure
    .input(updateOrderInput)
    .mutation(({ ctx, input }) => writeAs(ctx.db, ctx.actor, (tx) => updateOrder(tx, input))),

  delete: writeProcedure
    .input(deleteOrderInput)
    .mutation(({ ctx, input }) => writeAs(ctx.db, ctx.actor, (tx) => deleteOrder(tx, input.id, input.expectedVersion))),

  /** Oldest first; see HistoryEvent for what pruning (EVENT_RETENTION) leaves. */
  history: readProcedure.input(orderByIdInput).query(async ({ ctx, input }) => {
    const events = await orderHistory(ctx.db, input.id);
    // No event left of an order that exists: every one was pruned, and that is its answer.
    if (events.length === 0 && !(await findOrder(ctx.db, input.id))) throw notFound(input.id);
    return events;
  }),

  /**
   * Every change after `lastEventId` (replayed from the log), then live. The tRPC client
   * puts the last tracked id it saw into `lastEventId` when it reconnects.
   */
  onChange: readProcedure.input(onChangeInput).subscription(async function* ({ ctx, input, signal }) {
    // Over WebSocket, events go through tRPC only until the outlet knows its request id;
    // claiming must come before anything that could await.
    const transport = ctx.socket ? 'websocket' : 'sse';
    const outlet = ctx.socket && new SubscriptionOutlet(ctx.socket, () => ctx.metrics.eventsDelivered(transport));
    outlet?.claimStart();
    if (ctx.subscriptions.open >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
      throw new TRPCError({
        code: 'TOO_MANY_REQUESTS',
        message: `at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection; combine filters or open another connection`,
      });
    }
    ctx.subscriptions.open++;
    ctx.metrics.subscriptionOpened(transport);
    try {
      const { lastEventId, ...filter } = input;
      const abort = signal ?? new AbortController().signal;
      const readLog = (after: string, limit: number) => readEventJsonAfter(ctx.db, after, limit, filter);
      const events = streamEvents(ctx.hub, readLog, MAX_PAGE_SIZE, { after: lastEventId ?? null, filter, signal: abort, outlet });
      for await (const event of events) {
        if (ctx.socket && ctx.socket.bufferedAmount > MAX_BUFFERED_BYTES) await waitForRoom(ctx.socket, abort);
        // A tagged event is encoded as the event itself (event-encoder.ts).
        ctx.metrics.eventsDelivered(transport);
        yield tracked(event.id, outlet ? (outlet.tag(event) as unknown as OrderEvent) : event);
      }
    } finally {
      ctx.subscriptions.open--;
      ctx.metrics.subscriptionClosed(transport);
    }
  }),
});
