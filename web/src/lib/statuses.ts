import type { OrderStatus } from '../../../shared/orders.ts';

/**
 * The statuses in shop order. `shared/orders.ts` has the same list, but importing a value
 * from it pulls zod (~100 kB) into the page; the checks below keep the two lists equal.
 */
export const ORDER_STATUSES = ['pending', 'confirmed', 'shipped', 'delivered', 'cancelled'] as const satisfies readonly OrderStatus[];

type Missing = Exclude<OrderStatus, (typeof ORDER_STATUSES)[number]>;
const everyStatusListed: [Missing] extends [never] ? true : Missing = true;
void everyStatusListed;
