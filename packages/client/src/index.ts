// The package's public entry, `live-orders-client`: what an app imports, nothing internal.
export {
  createLiveOrders,
  type LiveOrders,
  type LiveOrdersEvents,
  type LiveOrdersOptions,
  type ResyncNotice,
} from './live-orders.ts';
export type { ConnectionState } from './lifecycle.ts';
export type { Api, TokenSource, Transport } from './links.ts';
export { describeChanges, describeEvent } from './describe-event.ts';
export { isAfter } from '../../../shared/positions.ts';
export { positionOf } from '../../../shared/resume-id.ts';
export { ORDER_STATUSES, STATUS_LABELS, type OrderStatus } from '../../../shared/order-status.ts';
export type { EventFilter, HistoryEvent, Order, OrderChanges, OrderEvent } from '../../../shared/orders.ts';
export type { AppRouter } from './app-router.ts';
export { applyCountMoves, countMoves, type OrderCounts, type StatusCounts } from '../../../shared/order-counts.ts';
export { FLOW_BUCKETS, FLOW_KINDS, flowKindsOf, type Flow, type FlowBucket, type FlowBucketSize, type FlowKind } from '../../../shared/order-flow.ts';
