import { tracked, type TrackedEnvelope } from '@trpc/server';
import type { OrderEvent } from '../../shared/orders.ts';
import type { Metrics, Transport } from '../metrics.ts';
import type { EventSink } from './event-sink.ts';
import type { EventHub } from './hub.ts';
import { resumeIdOf } from './logged-event.ts';
import { pushEvents, streamEvents, type ReadLog, type StreamOptions } from './stream.ts';

/** What a subscription does as it starts and ends, whichever way it is drained. */
export type StreamLifecycle = {
  /** Before the first event; a throw refuses the subscription (the client gets the error). */
  opened(transport: Transport): void;
  /**
   * The core stopped without failing (its signal aborted). A throw ends the subscription with
   * that error instead of quietly: a stream whose right to read ended (auth/access-right.ts).
   */
  stopped?(): void;
  /** Once its last event is out (or it failed); only after `opened` returned. */
  closed(transport: Transport): void;
};

export type EventStreamSource = {
  hub: EventHub;
  readLog: ReadLog;
  pageSize: number;
  options: StreamOptions;
  lifecycle: StreamLifecycle;
  metrics: Metrics;
};

/**
 * One subscriber's events (replay from the log, then live: stream.ts), as a subscription
 * procedure returns them, the same for every transport. How they leave is the transport's
 * choice, and each way is a drain of this object:
 *
 *   - iterated, as any tRPC adapter does with a subscription's AsyncIterable: each event
 *     yielded as `tracked(resumeId, event)` (shared/resume-id.ts). Here that is tRPC's HTTP handler, i.e. SSE;
 *   - pushed to an `EventSink` (`pushTo`), as our WebSocket transport does: the core writes
 *     each event into the sink while it has room, and nothing is yielded, so an idle
 *     subscriber holds no generator.
 *
 * Either way, the stream starts when it is first drained (where a generator's body would:
 * after tRPC's "started"), and counts each event as delivered as the drain hands it over,
 * under the drain's transport: this class is the one place deliveries are counted.
 */
export class EventStream implements AsyncIterable<TrackedEnvelope<OrderEvent>> {
  #source: EventStreamSource | undefined;

  constructor(source: EventStreamSource) {
    this.#source = source;
  }

  /**
   * Sends every event to `sink` until the subscription's signal aborts or the core fails;
   * `transport` names the drain in the metrics. A stream is drained once.
   */
  async pushTo(sink: EventSink, transport: Transport): Promise<void> {
    const source = this.#take();
    if (source === undefined) return;
    const { hub, readLog, pageSize, options, lifecycle, metrics } = source;
    lifecycle.opened(transport);
    try {
      await pushEvents(hub, readLog, pageSize, options, new CountedSink(sink, metrics, transport));
      lifecycle.stopped?.();
    } finally {
      lifecycle.closed(transport);
    }
  }

  /** Over this server, tRPC iterates a subscription only in its HTTP handler: SSE. */
  async *[Symbol.asyncIterator](): AsyncGenerator<TrackedEnvelope<OrderEvent>> {
    const source = this.#take();
    if (source === undefined) return;
    const { hub, readLog, pageSize, options, lifecycle, metrics } = source;
    lifecycle.opened('sse');
    try {
      for await (const event of streamEvents(hub, readLog, pageSize, options)) {
        metrics.eventsDelivered('sse');
        yield tracked(resumeIdOf(event), event);
      }
      lifecycle.stopped?.();
    } finally {
      lifecycle.closed('sse');
    }
  }

  // Dropped once drained: what outlives the start is the drain's, not this object's.
  #take(): EventStreamSource | undefined {
    const source = this.#source;
    this.#source = undefined;
    return source;
  }
}

/** A transport's sink, with each event counted as delivered as it is handed over. */
class CountedSink implements EventSink {
  constructor(
    private readonly sink: EventSink,
    private readonly metrics: Metrics,
    private readonly transport: Transport,
  ) {}

  hasRoom(): boolean {
    return this.sink.hasRoom();
  }

  send(event: OrderEvent, more: boolean): void {
    this.metrics.eventsDelivered(this.transport);
    this.sink.send(event, more);
  }

  waitForRoom(signal: AbortSignal): Promise<void> {
    return this.sink.waitForRoom(signal);
  }
}
