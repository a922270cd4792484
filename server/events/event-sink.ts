import type { OrderEvent } from '../../shared/orders.ts';

/**
 * Where a subscriber's events go: a WebSocket subscription's frames (ws/subscription-sink.ts)
 * or the queue an async generator yields from (stream.ts). The push core (`pushEvents`) sends
 * to it while it has room, and falls back to reading the log when it has none, so a sink is
 * bounded by its own measure of room and never has to drop or buffer without limit.
 */
export interface EventSink {
  /** Whether the sink can take another event now without passing its bound. */
  hasRoom(): boolean;
  /**
   * Takes one event; called only right after `hasRoom()` said yes. `more`: another event
   * follows at once, in this turn of the event loop (a page, a published batch): a socket
   * sink holds its write for it (ws/turn-writes.ts).
   */
  send(event: OrderEvent, more: boolean): void;
  /** Resolves once there is room again, the sink is gone, or `signal` aborts. */
  waitForRoom(signal: AbortSignal): Promise<void>;
}
