import { TRPCError } from '@trpc/server';
import {
  countOrdersInput,
  createManyOrdersInput,
  flowInput,
  createOrderInput,
  deleteOrderInput,
  listOrdersInput,
  onChangeInput,
  orderByIdInput,
  updateOrderInput,
} from '../../shared/orders.ts';
import { MAX_PAGE_SIZE, MAX_SUBSCRIPTIONS_PER_CONNECTION } from '../../shared/protocol.ts';
import { orderHistory, readEventJsonAfter } from '../db/events.ts';
import { createOrdersAs, deleteOrder, findOrder, getOrder, listOrders, notFound, updateOrder, writeAs } from '../db/orders.ts';
import { countOrders } from '../db/order-counts.ts';
import { readFlow } from '../db/order-flow.ts';
import { listOrdersAsOf } from '../db/orders-as-of.ts';
import { whileRightHolds } from '../auth/access-right.ts';
import { EventStream } from '../events/event-stream.ts';
import { readProcedure, router, writeProcedure } from '../trpc/init.ts';

export const ordersRouter = router({
  /** With `asOf`: the orders as they were right after that position, from the log (db/orders-as-of.ts). */
  list: readProcedure
    .input(listOrdersInput)
    .query(({ ctx, input: { asOf, ...page } }) => (asOf === undefined ? listOrders(ctx.db, page) : listOrdersAsOf(ctx.db, { asOf, ...page }))),

  /** Orders per status, exact at `lastEventId` (or at `asOf`): db/order-counts.ts. */
  counts: readProcedure.input(countOrdersInput).query(({ ctx, input }) => countOrders(ctx.db, input.asOf)),

  /** Created, shipped, delivered, cancelled per minute (last hour) or hour (last day), now or `asOf`: shared/order-flow.ts. */
  flow: readProcedure.input(flowInput).query(({ ctx, input }) => readFlow(ctx.db, input.bucket, input.asOf)),

  get: readProcedure.input(orderByIdInput).query(({ ctx, input }) => getOrder(ctx.db, input.id)),

  /**
   * Concurrent creates go as groups (db/create-batcher.ts); one with an idempotency key goes
   * alone, as its key's lock and look-up are its own transaction's.
   */
  create: writeProcedure.input(createOrderInput).mutation(async ({ ctx, input }) => {
    if (input.idempotencyKey === undefined) return ctx.creates.create(ctx.actor, input);
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
   * puts the last tracked id it saw into `lastEventId` when it reconnects. Tracked ids are
   * resume ids (position and digest, shared/resume-id.ts): a client whose event is no longer
   * in the log as it saw it (a failover, a restore) is refused with PRECONDITION_FAILED.
   *
   * One `EventStream` for every transport: tRPC's HTTP handler iterates it (SSE, each event
   * `tracked`), our WebSocket transport has it push into the subscription's socket. Which,
   * and counting what went out, is theirs (events/event-stream.ts).
   */
  onChange: readProcedure.input(onChangeInput).subscription(({ ctx, input, signal }) => {
    // Only what the subscription needs is kept, not the context or the input.
    const { db, hub, metrics, subscriptions } = ctx;
    const { lastEventId, ...filter } = input;
    // No stream outlives the right that opened it: a JWT's expiry, a session's end, a revoked token.
    const right = whileRightHolds(ctx.principal.right, signal ?? new AbortController().signal);
    return new EventStream({
      hub,
      readLog: (after, limit) => readEventJsonAfter(db, after, limit, filter),
      pageSize: MAX_PAGE_SIZE,
      options: { after: lastEventId ?? null, filter, signal: right.signal },
      metrics,
      lifecycle: {
        opened(transport) {
          if (subscriptions.open >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
            throw new TRPCError({
              code: 'TOO_MANY_REQUESTS',
              message: `at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection; combine filters or open another connection`,
            });
          }
          subscriptions.open++;
          metrics.subscriptionOpened(transport);
        },
        stopped: right.throwIfEnded,
        closed(transport) {
          right.dispose();
          subscriptions.open--;
          metrics.subscriptionClosed(transport);
        },
      },
    });
  }),
});
