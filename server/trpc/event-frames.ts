import type { OrderEvent } from '../../shared/orders.ts';
import { LoggedEvent } from '../events/logged-event.ts';

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
    entry = { json: event instanceof LoggedEvent ? event.json : JSON.stringify(event) };
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

/** A WebSocket text frame as a server sends it (RFC 6455 5.2: final, unmasked), header included. */
function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN, opcode 1 (text)
  if (length < 126) frame[1] = length;
  else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(text, header, 'utf8');
  return frame;
}

/** The whole WebSocket frame, header included, shared by every subscriber with the same prefix. */
export function eventFrame(prefix: string, event: OrderEvent): Buffer {
  const entry = cached(event);
  if (entry.prefix === prefix) return entry.frame!;
  let frame = entry.more?.get(prefix);
  if (frame === undefined) {
    frame = textFrame(prefix + body(event.id, entry.json));
    if (entry.prefix === undefined) {
      entry.prefix = prefix;
      entry.frame = frame;
    } else {
      (entry.more ??= new Map()).set(prefix, frame);
    }
  }
  return frame;
}
