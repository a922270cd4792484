import { TRPCError } from '@trpc/server';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ExpiringRight, RevocableRight, whileRightHolds } from './access-right.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('whileRightHolds', () => {
  test('a JWT\'s right ends its stream at exp, and the stream then ends UNAUTHORIZED with the reason', async () => {
    const right = new ExpiringRight(Date.now() + 10_000, 'token expired');
    const subscription = new AbortController();
    const watch = whileRightHolds(right, subscription.signal);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(watch.signal.aborted).toBe(false);
    expect(right.endedBecause()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(watch.signal.aborted).toBe(true);
    expect(right.endedBecause()).toBe('token expired');
    expect(() => watch.throwIfEnded()).toThrow(TRPCError);
    expect(() => watch.throwIfEnded()).toThrow(/token expired/);
  });

  test('a stream the client stopped just ends, and stops watching the right', () => {
    const right = new RevocableRight();
    const subscription = new AbortController();
    const watch = whileRightHolds(right, subscription.signal);
    subscription.abort();
    expect(watch.signal.aborted).toBe(true);
    right.revoke('token revoked');
    expect(() => watch.throwIfEnded()).not.toThrow();
  });

  test('many streams on one right: one timer, all ended together; a right already ended ends a new stream at once', async () => {
    const right = new ExpiringRight(Date.now() + 1_000, 'token expired');
    const watches = Array.from({ length: 5 }, () => whileRightHolds(right, new AbortController().signal));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(watches.every((w) => w.signal.aborted)).toBe(true);
    const late = whileRightHolds(right, new AbortController().signal);
    await vi.advanceTimersByTimeAsync(0);
    expect(late.signal.aborted).toBe(true);
    expect(() => late.throwIfEnded()).toThrow(/token expired/);
  });

  test('disposed watches leave no timer behind', () => {
    const right = new ExpiringRight(Date.now() + 60_000, 'token expired');
    const watch = whileRightHolds(right, new AbortController().signal);
    expect(vi.getTimerCount()).toBe(1);
    watch.dispose();
    expect(vi.getTimerCount()).toBe(0);
  });

  test('without a right (a static token, access control off), the subscription\'s own signal is used as it is', () => {
    const subscription = new AbortController();
    expect(whileRightHolds(undefined, subscription.signal).signal).toBe(subscription.signal);
  });
});
