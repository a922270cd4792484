import { describe, expect, test } from 'vitest';
import type { Order, OrderEvent } from '../../../shared/orders.ts';
import { OrdersCopy } from './orders-copy.ts';

const order = (id: string, version: number, status: Order['status'] = 'pending'): Order => ({
  id,
  customerName: 'c',
  productName: 'p',
  status,
  version,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
});
const event = (id: string, type: OrderEvent['type'], o: Order): OrderEvent => ({ id, type, orderId: o.id, order: o, actor: 'a', at: o.updatedAt });

describe('OrdersCopy', () => {
  test('a newer state wins, whichever arrives first', () => {
    const copy = new OrdersCopy();
    expect(copy.apply(event('5', 'updated', order('1', 3, 'shipped')))).toBe(true);
    copy.mergePage([order('1', 2)]); // a snapshot page older than the event
    expect(copy.orders.get('1')).toEqual(order('1', 3, 'shipped'));
    expect(copy.apply(event('4', 'updated', order('1', 3, 'shipped')))).toBe(false);
    copy.mergePage([order('1', 4, 'delivered')]); // a later page, newer than the event
    expect(copy.orders.get('1')?.version).toBe(4);
  });

  test('an order deleted while the snapshot loads is not brought back by a later page', () => {
    const copy = new OrdersCopy();
    copy.mergePage([order('1', 1)]);
    copy.apply(event('7', 'deleted', order('2', 1)));
    copy.mergePage([order('2', 1)]); // this page was read before the delete committed
    expect([...copy.orders.keys()]).toEqual(['1']);
    copy.snapshotComplete();
    copy.apply(event('8', 'deleted', order('1', 1)));
    expect(copy.orders.size).toBe(0);
  });
});
