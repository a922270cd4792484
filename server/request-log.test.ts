import { describe, expect, test } from 'vitest';
import { routeOf } from './request-log.ts';

describe('routeOf: a fixed set of route labels, whatever the path', () => {
  test.each([
    ['/trpc', 200, '/trpc'],
    ['/trpc/orders.list,orders.get', 200, '/trpc'],
    ['/api/orders', 201, '/api/orders'],
    ['/api/orders/', 200, '/api/orders'],
    ['/api/orders/123', 404, '/api/orders/:id'],
    ['/api/orders/123/x', 404, 'unmatched'],
    ['/api/elsewhere', 404, 'unmatched'],
    ['/healthz', 503, '/healthz'],
    ['/readyz', 200, '/readyz'],
    ['/metrics', 401, '/metrics'],
    ['/', 200, 'page'],
    ['/assets/index-abc.js', 304, 'page'],
    ['/no/such/file', 404, 'unmatched'],
  ])('%s (%i) is %s', (path, status, route) => {
    expect(routeOf(path, status)).toBe(route);
  });
});
