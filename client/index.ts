// The package's public entry, `live-orders/client`: what an app imports, nothing internal.
export {
  createLiveOrders,
  type ConnectionState,
  type LiveOrders,
  type LiveOrdersEvents,
  type LiveOrdersOptions,
  type ResyncNotice,
} from './live-orders.ts';
export type { TokenSource, Transport } from './links.ts';
export type { EventFilter, Order, OrderEvent } from '../shared/orders.ts';
export type { OrderStatus } from '../shared/order-status.ts';
export type { AppRouter } from '../server/routers/app.ts';
