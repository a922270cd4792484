import { describe, expect, test } from 'vitest';
import { eventEncoder } from './event-encoder.ts';
import type { Outbound } from './context.ts';
import { SubscriptionOutlet } from './subscription-outlet.ts';

const event = { id: '7', type: 'created', orderId: '3', order: { id: '3', customerName: 'Ünïcode "quoted" \\ </script>' }, actor: 'a', at: 'now' };

describe('eventEncoder', () => {
  test('a tracked data frame encodes to the same JSON as JSON.stringify', () => {
    for (const frame of [
      { id: 1, result: { type: 'data', id: '7', data: { id: '7', data: event } } },
      { id: 'req-1', jsonrpc: '2.0', result: { type: 'data', id: '7', data: { id: '7', data: event } } },
    ]) {
      const encoded = eventEncoder.encode(frame) as string;
      expect(JSON.parse(encoded)).toEqual(JSON.parse(JSON.stringify(frame)));
      expect(eventEncoder.encode(frame)).toBe(encoded); // the second time from the cache
    }
  });

  test('every other message is plain JSON', () => {
    for (const message of [{ id: 1, result: { type: 'started' } }, { id: 2, error: { code: -32600, message: 'x' } }, { id: 3, result: { type: 'data', data: 5 } }]) {
      expect(eventEncoder.encode(message)).toBe(JSON.stringify(message));
    }
  });

  test('a tagged event is encoded as the event, and tells its outlet the request id', () => {
    const sent: Buffer[] = [];
    const socket = fakeSocket((frame) => sent.push(payloadOf(frame)));
    const outlet = new SubscriptionOutlet(socket);
    const frame = { id: 4, jsonrpc: '2.0', result: { type: 'data', id: '7', data: { id: '7', data: outlet.tag(event as never) } } };
    expect(outlet.ready).toBe(false);
    const encoded = eventEncoder.encode(frame) as string;
    expect(JSON.parse(encoded)).toEqual({ id: 4, jsonrpc: '2.0', result: { type: 'data', id: '7', data: { id: '7', data: event } } });
    expect(outlet.ready).toBe(true);

    // What the outlet sends itself is byte for byte what tRPC would have sent.
    const next = { ...event, id: '8' };
    outlet.send(next as never);
    const viaTrpc = eventEncoder.encode({ id: 4, jsonrpc: '2.0', result: { type: 'data', id: '8', data: { id: '8', data: next } } });
    expect(sent.map(String)).toEqual([viaTrpc]);

    // Another subscription, another request id: the same event, its own frame.
    const other = new SubscriptionOutlet(socket);
    eventEncoder.encode({ id: 9, result: { type: 'data', id: '7', data: { id: '7', data: other.tag(event as never) } } });
    other.send(next as never);
    outlet.send(next as never);
    expect(sent.map((b) => JSON.parse(String(b)).id)).toEqual([4, 9, 4]);
    expect(sent.every((b) => JSON.parse(String(b)).result.data.data.id === '8')).toBe(true);
  });
});

/** An open socket with room, writing frames to `write`. */
function fakeSocket(write: (frame: Buffer) => void): Outbound {
  return { bufferedAmount: 0, readyState: 1, writeFrame: write, drained: async () => {} };
}

/** The payload of one unmasked, final text frame, checking its header on the way (RFC 6455 5.2). */
function payloadOf(frame: Buffer): Buffer {
  expect(frame[0]).toBe(0x81);
  const short = frame[1]!;
  expect(short & 0x80).toBe(0); // a server never masks
  const [header, length] = short < 126 ? [2, short] : short === 126 ? [4, frame.readUInt16BE(2)] : [10, Number(frame.readBigUInt64BE(2))];
  expect(frame.length).toBe(header + length);
  return frame.subarray(header);
}

test('frames of every length class carry their payload whole', () => {
  const sent: Buffer[] = [];
  const outlet = new SubscriptionOutlet(fakeSocket((frame) => sent.push(payloadOf(frame))));
  eventEncoder.encode({ id: 1, result: { type: 'data', id: '1', data: { id: '1', data: outlet.tag(event as never) } } });
  for (const size of [0, 60, 200, 70_000]) {
    const big = { ...event, id: String(size + 10), actor: 'x'.repeat(size) };
    outlet.send(big as never);
    expect(JSON.parse(String(sent.at(-1))).result.data.data).toEqual(big);
  }
});

describe('a subscription claiming its request id from the "started" reply', () => {
  const socket = fakeSocket(() => {});
  const started = (id: number) => eventEncoder.encode({ id, result: { type: 'started' } });

  test('takes the one reply encoded in its own synchronous run', () => {
    started(3);
    const outlet = new SubscriptionOutlet(socket);
    outlet.claimStart();
    expect(outlet.ready).toBe(true);
    const second = new SubscriptionOutlet(socket);
    second.claimStart(); // the reply was taken
    expect(second.ready).toBe(false);
  });

  test('claims nothing after an await, or when two replies were encoded', async () => {
    started(4);
    await Promise.resolve();
    const late = new SubscriptionOutlet(socket);
    late.claimStart();
    expect(late.ready).toBe(false);

    started(5);
    started(6);
    const unsure = new SubscriptionOutlet(socket);
    unsure.claimStart();
    expect(unsure.ready).toBe(false);
  });
});
