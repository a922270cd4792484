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
 * tRPC does not tell a procedure its request id, so the outlet learns it from the encoder,
 * one of two ways:
 * - `claimStart()`: tRPC encodes a subscription's "started" reply and, in the same
 *   synchronous run, starts its generator. A generator that claims first thing takes the one
 *   id announced in its own run. Two announcements in one run, or none, claim nothing: the
 *   claim never guesses.
 * - `tag()`: otherwise the first event is yielded through tRPC wrapped in a tag; the encoder
 *   sees the tag in the frame it is asked to encode and hands the outlet that frame's id.
 */
const AMBIGUOUS = Symbol('two subscriptions started in one synchronous run');
let announced: string | typeof AMBIGUOUS | undefined;

/** Called by the encoder for each "started" reply, with its request-id prefix. */
export function announceStart(prefix: string): void {
  if (announced !== undefined) {
    announced = AMBIGUOUS;
    return;
  }
  announced = prefix;
  // An announcement lives until the synchronous run ends: any await lets other work in.
  queueMicrotask(() => (announced = undefined));
}

export class SubscriptionOutlet {
  #prefix: string | undefined;

  constructor(
    private readonly socket: Outbound,
    /** Counts each event sent (the metrics' deliveries); tRPC's own sends are counted by the caller. */
    private readonly sent: () => void = () => {},
  ) {}

  /** Whether the request id is known, so `send` may be used. */
  get ready(): boolean {
    return this.#prefix !== undefined;
  }

  /** Takes the request id tRPC has just said "started" for; see above. Call first thing. */
  claimStart(): void {
    if (typeof announced === 'string') this.#prefix ??= announced;
    announced = undefined;
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
    this.sent();
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
