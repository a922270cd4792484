import { describe, expect, test } from 'vitest';
import { eventEncoder } from './event-encoder.ts';

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
});
