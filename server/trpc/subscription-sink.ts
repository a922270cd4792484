import type { OrderEvent } from '../../shared/orders.ts';
import type { EventSink } from '../events/event-sink.ts';
import type { WebSocketConnection } from './ws-connection.ts';

/**
 * Where a WebSocket subscription's events go: its connection, under its request id, known
 * from the start because the transport puts this sink in the subscription's context. Room is
 * the socket's: past MAX_BUFFERED_BYTES unsent the push core stops sending and later reads
 * the log instead, so a client that stops reading costs the server a bounded buffer.
 */
export class SubscriptionSink implements EventSink {
  constructor(
    private readonly connection: WebSocketConnection,
    /** `{"id":<request id>,` (and jsonrpc), the start of each of this subscription's messages */
    private readonly prefix: string,
  ) {}

  hasRoom(): boolean {
    return this.connection.hasRoom();
  }

  send(event: OrderEvent, more: boolean): void {
    this.connection.sendEvent(this.prefix, event, more);
  }

  waitForRoom(signal: AbortSignal): Promise<void> {
    return this.connection.waitForRoom(signal);
  }
}
