import type { OrderEvent } from '../../shared/orders.ts';

/**
 * tRPC's WebSocket frame for one tracked event of a subscription, built so that fan-out costs
 * one serialization per event, not one per subscriber:
 *
 *   {"id":<request id>[,"jsonrpc":"2.0"],"result":{"type":"data","id":"<position>","data":{"id":"<position>","data":<event>}}}
 *
 * The event's JSON is made once and kept with the event object, which the hub shares between
 * all subscribers. The whole frame is kept too, per request-id prefix: clients number their
 * requests from 1 on each connection, so most subscribers share a prefix and get the very
 * same bytes.
 */
// Most events meet one prefix only (a replay page is read for one subscriber; live
// subscribers mostly share id 1), so the first frame is kept in fields, further ones in a Map.
type Cached = { json: string; prefix?: string; frame?: Buffer; more?: Map<string, Buffer> };
const cache = new WeakMap<object, Cached>();

function cached(event: OrderEvent): Cached {
  let entry = cache.get(event);
  if (entry === undefined) {
    entry = { json: JSON.stringify(event) };
    cache.set(event, entry);
  }
  return entry;
}

/** `{"id":7,` or `{"id":7,"jsonrpc":"2.0",`: what differs between subscribers' frames. */
export function requestPrefix(requestId: unknown, jsonrpc: unknown): string {
  const rpc = jsonrpc === undefined ? '' : `"jsonrpc":${JSON.stringify(jsonrpc)},`;
  return `{"id":${JSON.stringify(requestId ?? null)},${rpc}`;
}

function body(position: string, json: string): string {
  const id = JSON.stringify(position);
  return `"result":{"type":"data","id":${id},"data":{"id":${id},"data":${json}}}}`;
}

/** The frame as text, for tRPC's own send path (its encoder returns strings). */
export function eventFrameText(prefix: string, position: string, event: OrderEvent): string {
  return prefix + body(position, cached(event).json);
}

/** The frame as bytes, shared by every subscriber with the same prefix. */
export function eventFrame(prefix: string, event: OrderEvent): Buffer {
  const entry = cached(event);
  if (entry.prefix === prefix) return entry.frame!;
  let frame = entry.more?.get(prefix);
  if (frame === undefined) {
    frame = Buffer.from(prefix + body(event.id, entry.json));
    if (entry.prefix === undefined) {
      entry.prefix = prefix;
      entry.frame = frame;
    } else {
      (entry.more ??= new Map()).set(prefix, frame);
    }
  }
  return frame;
}
