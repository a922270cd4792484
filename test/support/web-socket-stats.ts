import { sample } from './metrics-text.ts';
import type { TestServer } from './server.ts';

/**
 * How events left for subscribers, read from outside the transport (it keeps no counters
 * for tests): `orders.onChange` returns an `EventStream`, which counts every event it hands
 * over under the way it was drained. Pushed into a WebSocket subscription's sink: `websocket`.
 * Iterated, one value at a time, as tRPC's adapters do: `sse` (over this server, tRPC's HTTP
 * handler is the only one that iterates it), so with no SSE subscriber any `sse` delivery
 * went through the transport's generic per-value path.
 */
export async function webSocketStats(server: TestServer): Promise<{
  /** events pushed through `SubscriptionSink` (framed once per prefix) */
  eventMessages: number;
  /** events that went through the generic per-value path instead */
  otherSubscriptionData: number;
  /** event messages built: at most one per event per request-id prefix */
  eventMessagesBuilt: number;
}> {
  const text = await server.app.metrics.text();
  const delivered = (transport: string) => sample(text, 'live_orders_events_delivered_total', { transport }) ?? 0;
  return {
    eventMessages: delivered('websocket'),
    otherSubscriptionData: delivered('sse'),
    eventMessagesBuilt: server.drills.eventMessagesBuilt(),
  };
}
