import { router } from '../trpc/init.ts';
import { eventsRouter } from './events.ts';
import { ordersRouter } from './orders.ts';

export const appRouter = router({
  orders: ordersRouter,
  events: eventsRouter,
});

/** The API's type, for typed clients (`import type` only: no server code reaches them). */
export type AppRouter = typeof appRouter;
