/**
 * Follows the orders' changes in a terminal, one line each, on the client library:
 *
 *   npm run tail                                         # from now on
 *   npm run tail -- --status shipped --json              # one OrderEvent as JSON per line
 *   npm run tail -- --state tail.json                    # resumes where the last run stopped
 *   npm run tail -- --from 1200 --order 42 --transport sse --token "$TOKEN"
 *
 * stdout carries the changes only; what the tail itself has to say goes to stderr.
 */
import { renameSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { createLiveOrders, type OrderEvent, type Transport } from '../client/index.ts';
import { eventPositionSchema, orderIdSchema, orderStatusSchema } from '../shared/orders.ts';
import { describeEvent } from '../web/src/lib/describe.ts';

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

const transport = values.transport as Transport;
if (transport !== 'websocket' && transport !== 'sse') fail('--transport takes websocket or sse');
const check = <T>(flag: string, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ message: string }> } } }, value: string | undefined): T | undefined => {
  if (value === undefined) return undefined;
  const parsed = schema.safeParse(value);
  if (!parsed.success) fail(`${flag} ${parsed.error.issues[0]?.message ?? 'is not valid'}`);
  return parsed.data;
};
const status = check('--status', orderStatusSchema, values.status);
const orderId = check('--order', orderIdSchema, values.order);
let from = check('--from', eventPositionSchema, values.from) ?? null;

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
    const position = eventPositionSchema.safeParse((JSON.parse(text) as { lastEventId?: unknown }).lastEventId);
    if (position.success) return position.data;
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
