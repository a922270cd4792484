/**
 * The few facts of the tRPC WebSocket wire format the bench relies on (from
 * @trpc/server/adapters/ws, v11): one JSON text frame per message, `PING`/`PONG` text
 * frames for keep-alive, and a tracked subscription event sent as
 *
 *   {"id":1,"result":{"type":"data","data":{"id":"<pos>.<digest>","data":<OrderEvent>},"id":"<pos>.<digest>"}}
 *
 * Subscribers find the position and the order id by string search rather than JSON.parse:
 * at 5,000 sockets the client harness must cost far less than the server it measures.
 */
export const SUBSCRIPTION_ID = 1;

export function subscribeMessage(lastEventId: string | null): string {
  return JSON.stringify({
    id: SUBSCRIPTION_ID,
    method: 'subscription',
    params: { path: 'orders.onChange', input: lastEventId === null ? {} : { lastEventId } },
  });
}

const POSITION_MARK = '"data":{"id":"';
const ORDER_ID_MARK = '"orderId":"';

/** The number written after `mark`: its leading digits (a tracked id's digest follows a dot). */
function digitsAfter(frame: string, mark: string): number {
  const at = frame.indexOf(mark);
  if (at < 0) return Number.NaN;
  const start = at + mark.length;
  return Number.parseInt(frame.slice(start, frame.indexOf('"', start)), 10);
}

export type Frame =
  | { kind: 'data'; position: number; orderId: number }
  | { kind: 'started' }
  | { kind: 'ping' }
  | { kind: 'other'; text: string };

export function readFrame(frame: string): Frame {
  if (frame === 'PING') return { kind: 'ping' };
  if (frame.startsWith('{"id":1,"result":{"type":"data"')) {
    return { kind: 'data', position: digitsAfter(frame, POSITION_MARK), orderId: digitsAfter(frame, ORDER_ID_MARK) };
  }
  if (frame.includes('"type":"started"')) return { kind: 'started' };
  return { kind: 'other', text: frame };
}

/**
 * What the bare `ws` baseline sends: a frame shaped and sized like the tRPC one, so the
 * subscriber code and the bytes on the wire are the same; `seq` stands in for both the
 * position and the order id. `bytes` pads the product name to the measured frame size.
 */
export function baselineFrame(seq: number, bytes: number): string {
  const event = (pad: string) =>
    JSON.stringify({
      id: SUBSCRIPTION_ID,
      result: {
        type: 'data',
        data: {
          id: String(seq),
          data: {
            id: String(seq),
            type: 'created',
            orderId: String(seq),
            order: { id: String(seq), customerName: 'Bench', productName: pad, status: 'pending', version: 1 },
            actor: 'anonymous',
          },
        },
        id: String(seq),
      },
    });
  const base = event('').length;
  return event('x'.repeat(Math.max(0, bytes - base)));
}
