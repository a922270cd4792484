import { expect, vi } from 'vitest';
import type { OnChangeInput, OrderEvent } from '../../shared/orders.ts';
import type { Client } from './server.ts';

export type Recorder = {
  events: OrderEvent[];
  /** the tracked ids as the client saw them */
  ids: string[];
  errors: unknown[];
  /** Waits, up to `timeoutMs`, until at least `count` events have arrived. */
  waitForCount(count: number, timeoutMs?: number): Promise<void>;
  stop(): void;
};

/** Subscribes to orders.onChange and records what arrives. */
export function record(client: Client, input: Partial<OnChangeInput>): Recorder {
  const events: OrderEvent[] = [];
  const ids: string[] = [];
  const errors: unknown[] = [];
  const sub = client.orders.onChange.subscribe(input, {
    onData(envelope) {
      ids.push(envelope.id);
      events.push(envelope.data);
    },
    onError(err) {
      errors.push(err);
    },
  });
  return {
    events,
    ids,
    errors,
    async waitForCount(count, timeoutMs = 30_000) {
      await vi.waitFor(
        () => {
          expect(errors).toEqual([]);
          expect(events.length).toBeGreaterThanOrEqual(count);
        },
        { timeout: timeoutMs, interval: 10 },
      );
    },
    stop: () => sub.unsubscribe(),
  };
}

/** Positions as numbers are fine for the sizes tests make. */
export const positions = (events: OrderEvent[]) => events.map((e) => Number(e.id));

export function expectStrictlyIncreasing(events: OrderEvent[]): void {
  const p = positions(events);
  for (let i = 1; i < p.length; i++) {
    if (!(p[i]! > p[i - 1]!)) throw new Error(`positions not strictly increasing at ${i}: ${p[i - 1]} then ${p[i]}`);
  }
}
