/**
 * Follows the orders' changes in a terminal, one line each, on the client library: the
 * package's `live-orders-tail` command (`npm run tail` in the repository).
 *
 *   npx live-orders-tail                                 # from now on
 *   npx live-orders-tail --status shipped --json         # one OrderEvent as JSON per line
 *   npx live-orders-tail --state tail.json               # resumes where the last run stopped
 *   npx live-orders-tail --from 1200 --order 42 --transport sse --token "$TOKEN"
 *
 * stdout carries the changes only; what the tail itself has to say goes to stderr.
 */
import { renameSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { ORDER_STATUSES, type OrderStatus } from '../../../shared/order-status.ts';
import type { OrderEvent } from '../../../shared/orders.ts';
import { ORDER_ID_PATTERN, POSITION_PATTERN } from '../../../shared/positions.ts';
import { TRANSPORTS, type Transport } from '../../../shared/protocol.ts';
import { describeEvent } from './describe-event.ts';
import { createLiveOrders } from './live-orders.ts';

function fail(message: string): never {
  process.stderr.write(`tail: ${message}\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:4000' },
      token: { type: 'string' },
      transport: { type: 'string', default: 'websocket' },
      status: { type: 'string' },
      order: { type: 'string' },
      from: { type: 'string' },
      state: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  }));
} catch (err) {
  fail((err as Error).message);
}

// Checked by hand rather than with the server's zod schemas, so the command needs nothing
// but its own small dependencies; the patterns are the same ones those schemas use.
const oneOf = <T extends string>(flag: string, allowed: readonly T[], value: string | undefined): T | undefined => {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) fail(`${flag} takes one of ${allowed.join(', ')}`);
  return value as T;
};
const matching = (flag: string, pattern: RegExp, what: string, value: string | undefined): string | undefined => {
  if (value === undefined) return undefined;
  if (!pattern.test(value)) fail(`${flag} must be ${what}`);
  return value;
};
const transport: Transport = oneOf('--transport', TRANSPORTS, values.transport)!;
const status = oneOf<OrderStatus>('--status', ORDER_STATUSES, values.status);
const orderId = matching('--order', ORDER_ID_PATTERN, 'an order id (a positive integer)', values.order);
let from = matching('--from', POSITION_PATTERN, 'a position (a non-negative integer)', values.from) ?? null;

const stateFile = values.state;
if (from === null && stateFile) from = readState(stateFile);

function readState(file: string): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null; // the first run
    fail(`cannot read --state ${file}: ${(err as Error).message}`);
  }
  try {
    // Saved exactly as the server sent it (ids are opaque); its position must lead it.
    const saved = (JSON.parse(text) as { lastEventId?: unknown }).lastEventId;
    if (typeof saved === 'string' && POSITION_PATTERN.test(/^[0-9]+/.exec(saved)?.[0] ?? '')) return saved;
  } catch {
    // reported below
  }
  fail(`--state ${file} does not hold {"lastEventId": "<position>"}; remove it to start at the live end`);
}

/** Written beside and renamed over, so a crash mid-write never leaves half a file. */
function saveState(file: string, lastEventId: string) {
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ lastEventId })}\n`);
  renameSync(`${file}.tmp`, file);
}

const filter = { ...(status && { status }), ...(orderId && { orderId }) };
const live = createLiveOrders({
  url: values.url,
  token: values.token ?? process.env.LIVE_ORDERS_TOKEN,
  transport,
  filter,
  snapshot: false,
  from,
  // Node 20 has no global WebSocket; ws's class is the one tRPC's own docs pass here, and its
  // type differs from the DOM's only in extras tRPC does not touch.
  WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
});

const line = (event: OrderEvent) => {
  if (values.json) return JSON.stringify(event);
  const { order } = event;
  const what = event.type === 'updated' ? describeEvent(event) : `Order ${event.orderId} ${event.type}: ${order.customerName} / ${order.productName}, ${order.status}`;
  return `${event.id}\t${event.at}\t${what}\t(v${order.version}, by ${event.actor})`;
};

// Lines of one turn go out together, and the position is saved right after they are
// written: a stopped tail resumes after the last line it printed.
let pending: OrderEvent[] = [];
const flush = () => {
  if (!pending.length) return;
  const events = pending;
  pending = [];
  process.stdout.write(events.map(line).join('\n') + '\n');
  if (stateFile) saveState(stateFile, events.at(-1)!.id);
};
live.on('change', (event) => {
  if (pending.push(event) === 1) setImmediate(flush);
});

const say = (message: string) => process.stderr.write(`tail: ${message}\n`);
live.on('state', (state) => {
  if (stopping) return;
  if (state === 'live') lastProblem = '';
  say(state === 'live' ? `live over ${live.transport}` : state);
});
live.on('resynced', ({ reason, lastEventId }) => say(`the server could not resume from there (${reason}); going on from ${lastEventId}`));
let lastProblem = '';
live.on('error', ({ error, fatal }) => {
  if (!fatal) {
    // Retried by itself; said once per kind of problem, not once per retry.
    if (error.message !== lastProblem) say(`${error.message}; retrying`);
    lastProblem = error.message;
    return;
  }
  say(error.message);
  process.exitCode = 1;
  void stop();
});
// Saved once live, so even a run that printed nothing resumes from where it began.
void live.ready.then(() => {
  if (stateFile && pending.length === 0 && live.lastEventId !== null && live.lastEventId !== from) saveState(stateFile, live.lastEventId);
}, () => {});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  flush();
  await live.close();
  // stdout may still hold lines for a slow reader.
  process.stdout.write('', () => process.exit());
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
