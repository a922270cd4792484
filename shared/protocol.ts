/** The NOTIFY channel the trigger signals on; its payload is the new event's position. */
export const EVENTS_CHANNEL = 'order_events';

/** Largest page `orders.list` and `events.list` return, and their default. */
export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_PAGE_SIZE = 100;

/** Most orders one `orders.createMany` call (one transaction) may create. */
export const MAX_CREATE_MANY = 1000;

/** Longest customer or product name, in characters. */
export const MAX_NAME_LENGTH = 200;

/** Longest idempotency key. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

/** The path tRPC is served on, over HTTP and WebSocket alike. */
export const TRPC_PATH = '/trpc';

/** Most procedure calls one batched HTTP request may carry. */
export const MAX_BATCH_OPERATIONS = 200;

/** Most subscriptions open at once on one WebSocket. */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 32;
