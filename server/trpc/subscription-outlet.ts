import type { OrderEvent } from '../../shared/orders.ts';
import { MAX_BUFFERED_BYTES, waitForRoom } from './backpressure.ts';
import type { Outbound } from './context.ts';
import { eventFrame } from './event-frames.ts';

/**
 * A subscription's own way to its WebSocket, past tRPC's per-message work.
 *
 * tRPC's ws adapter handles each yielded value with a promise race, two response objects and
 * an async-iterator step, per subscriber per event: at 1,000 subscribers that, not our code,
 * was most of the server's time. Once a subscription knows its request id it writes the very
 * frame tRPC would have written (see event-frames.ts), itself, synchronously as the hub
 * publishes.
 *
 * tRPC does not tell a procedure its request id, so the outlet learns it from the encoder:
 * the subscription yields its first event wrapped in `tag()`, the encoder sees the wrapper
 * in the frame tRPC asks it to encode, and hands the outlet the frame's id. Until then (and
 * always, for a client that never gets an event) events go through tRPC as before.
 */
export class SubscriptionOutlet {
  #prefix: string | undefined;

  constructor(private readonly socket: Outbound) {}

  /** Whether the request id is known, so `send` may be used. */
  get ready(): boolean {
    return this.#prefix !== undefined;
  }

  /** What to yield to tRPC in place of `event` while the request id is unknown. */
  tag(event: OrderEvent): TaggedEvent {
    return new TaggedEvent(this, event);
  }

  /** Called by the encoder with the request-id part of this subscription's frames. */
  learn(prefix: string): void {
    this.#prefix ??= prefix;
  }

  /** Whether the socket can take more without passing the backpressure limit. */
  hasRoom(): boolean {
    return this.socket.bufferedAmount <= MAX_BUFFERED_BYTES;
  }

  waitForRoom(signal: AbortSignal): Promise<void> {
    return waitForRoom(this.socket, signal);
  }

  /** Writes the event's frame; a closed socket drops it (tRPC stops the subscription then). */
  send(event: OrderEvent): void {
    this.socket.writeFrame(eventFrame(this.#prefix!, event));
  }
}

/** An event on its way through tRPC, carrying the outlet that waits for its request id. */
export class TaggedEvent {
  constructor(
    readonly outlet: SubscriptionOutlet,
    readonly event: OrderEvent,
  ) {}

  /** Any serializer but ours sees the plain event. */
  toJSON(): OrderEvent {
    return this.event;
  }
}
