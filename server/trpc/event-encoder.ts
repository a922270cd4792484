import { jsonEncoder, type Encoder } from '@trpc/server/adapters/ws';
import type { OrderEvent } from '../../shared/orders.ts';
import { eventFrameText, requestPrefix } from './event-frames.ts';
import { announceStart, TaggedEvent } from './subscription-outlet.ts';

type Frame = {
  id?: unknown;
  jsonrpc?: unknown;
  result?: { type?: unknown; id?: unknown; data?: { id?: unknown; data?: unknown } };
};

/**
 * tRPC's JSON wire format over WebSocket, the same bytes at a lower cost: a tracked
 * subscription frame `{ id, result: { type: 'data', id, data: { id, data } } }` reuses the
 * event's JSON, made once for all subscribers (event-frames.ts). "started" replies and tagged
 * events also tell subscriptions their request ids (subscription-outlet.ts).
 */
export const eventEncoder: Encoder = {
  encode(message) {
    const frame = message as Frame;
    const result = frame?.result;
    if (result?.type === 'started') announceStart(requestPrefix(frame.id, frame.jsonrpc));
    let event = result?.type === 'data' && typeof result.id === 'string' ? result.data?.data : undefined;
    if (event === null || typeof event !== 'object') return jsonEncoder.encode(message);
    const prefix = requestPrefix(frame.id, frame.jsonrpc);
    if (event instanceof TaggedEvent) {
      event.outlet.learn(prefix);
      event = event.event;
    }
    return eventFrameText(prefix, result!.id as string, event as OrderEvent);
  },
  decode: jsonEncoder.decode,
};
