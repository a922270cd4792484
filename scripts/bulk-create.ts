/**
 * Creates N orders over HTTP, for scripts that batch mutations:
 *
 *   npm run bulk-create -- --count 5000                 # orders.create calls, 100 per HTTP request
 *   npm run bulk-create -- --count 5000 --many          # orders.createMany, 1,000 per call and transaction
 *   npm run bulk-create -- --url http://127.0.0.1:4000 --batch 50
 *
 * Prints how many orders it made and how fast.
 */
import { parseArgs } from 'node:util';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import type { AppRouter } from '../server/routers/app.ts';
import { MAX_CREATE_MANY } from '../shared/protocol.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:4000' },
    count: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '100' },
    many: { type: 'boolean', default: false },
  },
});
const count = Number(values.count);
const batch = Number(values.batch);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(batch) || batch < 1) {
  console.error('--count and --batch take positive whole numbers');
  process.exit(2);
}

// Every create of one tick goes into one HTTP request, up to `batch` of them.
const client = createTRPCClient<AppRouter>({
  links: [httpBatchLink({ url: `${values.url}/trpc`, maxItems: batch })],
});

const order = (i: number) => ({ customerName: `Customer ${i}`, productName: `Product ${i % 97}` });
const started = performance.now();
let made = 0;
if (values.many) {
  for (let from = 0; from < count; from += MAX_CREATE_MANY) {
    const size = Math.min(MAX_CREATE_MANY, count - from);
    const orders = await client.orders.createMany.mutate({ orders: Array.from({ length: size }, (_, i) => order(from + i)) });
    made += orders.length;
  }
} else {
  for (let from = 0; from < count; from += batch) {
    const size = Math.min(batch, count - from);
    const orders = await Promise.all(Array.from({ length: size }, (_, i) => client.orders.create.mutate(order(from + i))));
    made += orders.length;
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(`created ${made} orders in ${seconds.toFixed(2)} s (${Math.round(made / seconds)} orders/s) via ${values.many ? 'orders.createMany' : `orders.create, ${batch} per HTTP request`}`);
