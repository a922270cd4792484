import type { OrderEvent } from '../../shared/orders.ts';
import { LoggedEvent, resumeIdOf } from '../events/logged-event.ts';
import { textFrame } from './text-frame.ts';

/**
 * tRPC's WebSocket message for one tracked event of a subscription, built so that fan-out costs
 * one serialization per event, not one per subscriber. The bytes are what tRPC's own adapter
 * sends for `tracked(position, event)` (its key order included; the conformance test compares):
 *
 *   {"id":<request id>[,"jsonrpc":"2.0"],"result":{"type":"data","data":{"id":"<resume id>","data":<event>},"id":"<resume id>"}}
 *
 * The tracked id is the event's resume id (position and digest, shared/resume-id.ts), which
 * the client sends back as `lastEventId` when it reconnects.
 *
 * The event's JSON is made once and kept with the event object, which the hub shares between
 * all subscribers. The whole message is kept too, per request-id prefix, as a WebSocket frame
 * (text-frame.ts): clients number their requests from 1 on each connection, so most
 * subscribers share a prefix and their sockets are given the very same Buffer, framed once
 * rather than by `ws.send` once per socket (SocketWriter.sendFrame).
 */
// Most events meet one prefix only (a replay page is read for one subscriber; live
// subscribers mostly share id 1), so the first message is kept in fields, further ones in a Map.
type Cached = { json: string; prefix?: string; message?: Buffer; more?: Map<string, Buffer> };

export class EventFrames {
  readonly #cache = new WeakMap<object, Cached>();
  /** Messages built (and framed): at most one per event per request-id prefix. */
  built = 0;

  #cached(event: OrderEvent): Cached {
    let entry = this.#cache.get(event);
    if (entry === undefined) {
      entry = { json: event instanceof LoggedEvent ? event.json : JSON.stringify(event) };
      this.#cache.set(event, entry);
    }
    return entry;
  }

  /**
   * The message for `event` under a subscription whose prefix is `prefix` (see
   * `requestPrefix`), as a whole WebSocket text frame.
   */
  frame(prefix: string, event: OrderEvent): Buffer {
    const entry = this.#cached(event);
    if (entry.prefix === prefix) return entry.message!;
    let message = entry.more?.get(prefix);
    if (message === undefined) {
      const id = JSON.stringify(resumeIdOf(event));
      message = textFrame(Buffer.from(`${prefix}"result":{"type":"data","data":{"id":${id},"data":${entry.json}},"id":${id}}}`));
      this.built++;
      if (entry.prefix === undefined) {
        entry.prefix = prefix;
        entry.message = message;
      } else {
        (entry.more ??= new Map()).set(prefix, message);
      }
    }
    return message;
  }
}

/** `{"id":7,` or `{"id":7,"jsonrpc":"2.0",`: what differs between subscribers' messages. */
export function requestPrefix(requestId: string | number, jsonrpc: '2.0' | undefined): string {
  const rpc = jsonrpc === undefined ? '' : `"jsonrpc":"2.0",`;
  return `{"id":${JSON.stringify(requestId)},${rpc}`;
}
