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

/**
 * Server-Sent Events: the server sends a comment-like ping this often on an idle stream, so
 * proxies that close quiet connections (30-60 s is common) keep it open; a client that hears
 * nothing, not even a ping, for the second span reconnects, resuming from its last id.
 */
export const SSE_PING_INTERVAL_MS = 10_000;
export const SSE_RECONNECT_AFTER_INACTIVITY_MS = 30_000;

/** The HTTP headers that carry an access token: `Authorization: Bearer`, or none without one. */
export const authorizationHeader = (token: string | null | undefined): Record<string, string> =>
  token ? { authorization: `Bearer ${token}` } : {};

/** How `orders.onChange` reaches a client: tRPC over WebSocket, or Server-Sent Events. */
export const TRANSPORTS = ['websocket', 'sse'] as const;
export type Transport = (typeof TRANSPORTS)[number];
