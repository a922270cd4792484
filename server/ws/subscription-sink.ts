import type { OrderEvent } from '../../shared/orders.ts';
import type { EventSink } from '../events/event-sink.ts';
import type { EventFrames } from './event-frames.ts';
import type { SocketWriter } from './socket-writer.ts';

/**
 * Where a WebSocket subscription's events go when its procedure returns an `EventStream`:
 * its socket, under its request id (each event's message built and framed once per prefix and
 * shared, event-frames.ts). Room is the socket's: past MAX_BUFFERED_BYTES unsent the push core stops
 * sending and later reads the log instead, so a client that stops reading costs the server a
 * bounded buffer.
 */
export class SubscriptionSink implements EventSink {
  constructor(
    private readonly writer: SocketWriter,
    private readonly frames: EventFrames,
    /** `{"id":<request id>,` (and jsonrpc), the start of each of this subscription's messages */
    private readonly prefix: string,
  ) {}

  hasRoom(): boolean {
    return this.writer.hasRoom();
  }

  send(event: OrderEvent, more: boolean): void {
    if (!this.writer.isOpen) return;
    this.writer.sendFrame(this.frames.frame(this.prefix, event), more);
  }

  waitForRoom(signal: AbortSignal): Promise<void> {
    return this.writer.waitForRoom(signal);
  }
}
