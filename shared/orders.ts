import { z } from 'zod';
import {
  DEFAULT_PAGE_SIZE,
  MAX_CREATE_MANY,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_NAME_LENGTH,
  MAX_PAGE_SIZE,
} from './protocol.ts';
import { ORDER_STATUSES, type OrderStatus } from './order-status.ts';
import { ORDER_ID_PATTERN, POSITION_PATTERN } from './positions.ts';
import { DIGEST_HEX_DIGITS, positionOf, RESUME_ID_PATTERN } from './resume-id.ts';

export const orderStatusSchema = z.enum(ORDER_STATUSES);

const MAX_BIGINT = 9223372036854775807n;
// zod runs every check even after the regex failed, so this must not throw on non-digits.
const fitsBigint = (s: string) => !/^[0-9]+$/.test(s) || BigInt(s) <= MAX_BIGINT;

/** An order id: a positive bigint written as a decimal string. */
export const orderIdSchema = z
  .string()
  .regex(ORDER_ID_PATTERN, 'must be a positive integer written as a string')
  .refine(fitsBigint, 'is out of range');

/**
 * A resume id (shared/resume-id.ts): `N` or `N.<16 hex digits>`, N a position that fits a
 * bigint. (Here, not beside the id's format, so that the client library needs no zod.)
 */
export const resumeIdSchema = z
  .string()
  .regex(RESUME_ID_PATTERN, `must be a position ("1207") or a tracked event id ("1207.<${DIGEST_HEX_DIGITS} hex digits>")`)
  .refine((s) => !RESUME_ID_PATTERN.test(s) || fitsBigint(positionOf(s)), 'is out of range');

/** A position in the event log: "0" (before the first event) or a positive bigint string. */
export const eventPositionSchema = z
  .string()
  .regex(POSITION_PATTERN, 'must be a non-negative integer written as a string')
  .refine(fitsBigint, 'is out of range');

// PostgreSQL text cannot hold NUL, so it is refused here rather than failing in the database.
const noNul = (s: string) => !s.includes('\u0000');

// A lone UTF-16 surrogate (JSON "\ud800") has no UTF-8 form: stored, it would silently become
// U+FFFD and the order would differ from what was sent. With the u flag a surrogate that is
// half of a pair is not matched on its own, so only lone ones are.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const wellFormed = (s: string) => !LONE_SURROGATE.test(s);
const LONE_SURROGATE_MESSAGE = 'must not contain a lone UTF-16 surrogate (\\uD800-\\uDFFF without its pair)';

const nameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(MAX_NAME_LENGTH, `must be at most ${MAX_NAME_LENGTH} characters`)
  .refine(noNul, 'must not contain NUL characters')
  .refine(wellFormed, LONE_SURROGATE_MESSAGE);

const versionSchema = z.number().int().min(1);

/** An order as every API returns it. */
export type Order = {
  /** bigint as a decimal string */
  id: string;
  customerName: string;
  productName: string;
  status: OrderStatus;
  /** 1 on create, +1 on every update that changes a field */
  version: number;
  /** ISO 8601 */
  createdAt: string;
  /** ISO 8601 */
  updatedAt: string;
};

export type OrderEventType = 'created' | 'updated' | 'deleted';

/** The fields an update changed, with their value before and after. */
export type OrderChanges = Partial<Record<keyof Order, { from: string | number; to: string | number }>>;

/** One entry of the `order_events` log. */
export type OrderEvent = {
  /** position in the log, bigint as a decimal string; increases in commit order */
  id: string;
  type: OrderEventType;
  orderId: string;
  /** state after the change; for 'deleted', the last state */
  order: Order;
  /** 'updated' only: the fields that changed (version and updatedAt move with every change and are left out) */
  changes?: OrderChanges;
  /** who made the change: 'anonymous' (API without access control), a token's name, or 'sql:<role>' */
  actor: string;
  /** when the change committed, ISO 8601 */
  at: string;
};

/**
 * An entry of `orders.history`: an OrderEvent, so existing clients read it as before. The
 * first one carries `earlierPruned: true` when the order's earlier events were pruned from
 * the log (EVENT_RETENTION): its history then starts later than its creation. An order that
 * exists but whose every event was pruned has an empty history.
 */
export type HistoryEvent = OrderEvent & { earlierPruned?: true };

/** Input of `orders.create`; also each item of `orders.createMany`. */
export const createOrderInput = z.strictObject({
  customerName: nameSchema,
  productName: nameSchema,
  status: orderStatusSchema.optional(),
  idempotencyKey: z
    .string()
    .min(1, 'must not be empty')
    .max(MAX_IDEMPOTENCY_KEY_LENGTH, `must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`)
    .refine(noNul, 'must not contain NUL characters')
    .refine(wellFormed, LONE_SURROGATE_MESSAGE)
    .optional(),
});
export type CreateOrderInput = z.infer<typeof createOrderInput>;

export const createManyOrdersInput = z.strictObject({
  orders: z
    .array(createOrderInput)
    .min(1, 'must hold at least one order')
    .max(MAX_CREATE_MANY, `must hold at most ${MAX_CREATE_MANY} orders`),
});

export const updateOrderInput = z
  .strictObject({
    id: orderIdSchema,
    customerName: nameSchema.optional(),
    productName: nameSchema.optional(),
    status: orderStatusSchema.optional(),
    expectedVersion: versionSchema.optional(),
  })
  .refine(
    (u) => u.customerName !== undefined || u.productName !== undefined || u.status !== undefined,
    { message: 'give at least one of customerName, productName, status', path: ['customerName'] },
  );
export type UpdateOrderInput = z.infer<typeof updateOrderInput>;

export const deleteOrderInput = z.strictObject({
  id: orderIdSchema,
  expectedVersion: versionSchema.optional(),
});

export const orderByIdInput = z.strictObject({ id: orderIdSchema });

const pageLimit = z
  .number()
  .int()
  .min(1)
  .max(MAX_PAGE_SIZE)
  .default(DEFAULT_PAGE_SIZE);

export const listOrdersInput = z
  .strictObject({
    status: orderStatusSchema.optional(),
    limit: pageLimit,
    /** the `nextCursor` of the previous page */
    cursor: orderIdSchema.optional(),
    /**
     * the orders as they were right after this position, computed from the log; every page
     * of one listing must carry the same `asOf`
     */
    asOf: eventPositionSchema.optional(),
  })
  .default({ limit: DEFAULT_PAGE_SIZE });

export const countOrdersInput = z
  .strictObject({
    /** the counts as they were right after this position; absent: now */
    asOf: eventPositionSchema.optional(),
  })
  .default({});

export const flowInput = z.strictObject({
  /** 'minute': 60 buckets, the last hour; 'hour': 24 buckets, the last day */
  bucket: z.enum(['minute', 'hour']),
  /** the flow as it was right after this position (time travel); absent: now */
  asOf: eventPositionSchema.optional(),
});

// The years PostgreSQL and JavaScript write a time the same way (see orders_created_at_range).
const inWrittenYears = (s: string) => {
  const ms = Date.parse(s);
  return !(ms < Date.parse('0100-01-01T00:00:00Z') || ms >= Date.parse('9999-12-31T00:00:00Z'));
};

export const positionAtInput = z.strictObject({
  /** an ISO 8601 time with its offset, `2026-12-06T09:00:00Z` */
  at: z.iso.datetime({ offset: true }).refine(inWrittenYears, 'must be from the year 100 to 9998'),
});

export const listEventsInput = z
  .strictObject({
    after: eventPositionSchema.optional(),
    limit: pageLimit,
  })
  .default({ limit: DEFAULT_PAGE_SIZE });

export const onChangeInput = z
  .strictObject({
    /**
     * resume after this: a tracked id the subscription sent (position and digest; refused
     * with PRECONDITION_FAILED if that event is no longer in the log as the client saw it),
     * `orders.list`'s `resumeId`, or a plain position; absent or null: start at the live end
     */
    lastEventId: resumeIdSchema.nullish(),
    orderId: orderIdSchema.optional(),
    status: orderStatusSchema.optional(),
  })
  .default({});
export type OnChangeInput = z.infer<typeof onChangeInput>;

/** What a subscriber filters on; both are matched on the server. */
export type EventFilter = { orderId?: string; status?: OrderStatus };

/** Whether an event passes a subscriber's filter (`status` is the status after the change). */
export function matchesFilter(event: OrderEvent, filter: EventFilter): boolean {
  if (filter.orderId !== undefined && event.orderId !== filter.orderId) return false;
  if (filter.status !== undefined && event.order.status !== filter.status) return false;
  return true;
}
