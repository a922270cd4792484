import { describe, expect, test } from 'vitest';
import type { Order, OrderEvent } from '../shared/orders.ts';
import type { Flow } from '../shared/order-flow.ts';
import { addToFlow, emptyFlow, slideTo, toSeries } from '../web/src/stores/flow.ts';

const MINUTE = 60_000;
const order = (status: Order['status']): Order => ({
  id: '1',
  customerName: 'A',
  productName: 'B',
  status,
  version: 1,
  createdAt: '2026-12-06T10:00:00.000Z',
  updatedAt: '2026-12-06T10:00:00.000Z',
});
const created = (at: number, status: Order['status'] = 'pending'): OrderEvent => ({
  id: '1',
  type: 'created',
  orderId: '1',
  order: order(status),
  actor: 'anonymous',
  at: new Date(at).toISOString(),
});
const shipped = (at: number): OrderEvent => ({ ...created(at), type: 'updated', order: order('shipped'), changes: { status: { from: 'confirmed', to: 'shipped' } } });

describe("the page's flow series (the chart's data, moved by live events)", () => {
  const now = Date.parse('2026-12-06T10:30:20.000Z');

  test('its last hour ends with the current minute, and each event lands in the minute it was committed in', () => {
    const flow = emptyFlow('minute', now);
    expect(flow.start).toBe(Date.parse('2026-12-06T09:31:00.000Z'));
    addToFlow(flow, created(now));
    addToFlow(flow, shipped(now - 5 * MINUTE));
    addToFlow(flow, created(now - 5 * MINUTE, 'shipped')); // created as shipped: both
    expect(flow.created[59]).toBe(1);
    expect(flow.created[54]).toBe(1);
    expect(flow.shipped[54]).toBe(2);
    expect(flow.created.reduce((a, b) => a + b)).toBe(2);
  });

  test('slides along as time passes: old minutes drop out, new ones start empty', () => {
    const flow = emptyFlow('minute', now);
    addToFlow(flow, created(now - 58 * MINUTE));
    addToFlow(flow, created(now));
    slideTo(flow, now + 2 * MINUTE);
    expect(flow.start).toBe(Date.parse('2026-12-06T09:33:00.000Z'));
    expect(flow.created.reduce((a, b) => a + b)).toBe(1);
    expect(flow.created[57]).toBe(1);
    expect(flow.created.slice(58)).toEqual([0, 0]);
    // An event in a later minute slides the window to it; one before the window is not counted.
    addToFlow(flow, created(now + 3 * MINUTE));
    addToFlow(flow, created(now - 2 * 60 * MINUTE));
    expect(flow.created[59]).toBe(1);
    expect(flow.created.reduce((a, b) => a + b)).toBe(2);
    // A whole hour later, nothing is left.
    slideTo(flow, now + 2 * 60 * MINUTE);
    expect(flow.created.every((n) => n === 0)).toBe(true);
    expect(flow.created).toHaveLength(60);
  });

  test("takes the server's buckets as they are", () => {
    const start = Date.parse('2026-12-05T11:00:00.000Z');
    const answer: Flow = {
      bucket: 'hour',
      buckets: Array.from({ length: 24 }, (_, i) => ({ start: new Date(start + i * 60 * MINUTE).toISOString(), created: i, shipped: 0, delivered: i % 2, cancelled: 0 })),
      end: new Date(start + 24 * 60 * MINUTE).toISOString(),
      lastEventId: '42',
    };
    const series = toSeries(answer);
    expect(series.start).toBe(start);
    expect(series.bucketMs).toBe(60 * MINUTE);
    expect(series.created).toEqual(answer.buckets.map((b) => b.created));
    expect(series.delivered).toEqual(answer.buckets.map((b) => b.delivered));
  });
});
