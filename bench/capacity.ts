/**
 * npm run bench:capacity -- [--nodes 1,2,3] [--subscribers 100,400] [--events 200] [--rate 100]
 *                           [--notify-seconds 5] [--notify-connections 8]
 *
 * What more nodes and more subscribers cost the database, behind a real HAProxy
 * (deploy/haproxy.cfg), and how many notifying commits one PostgreSQL takes:
 *
 * 1. For each node count, subscribers through HAProxy (it spreads them by least connections),
 *    then `--events` single-row commits at `--rate` per second; once every subscriber has every
 *    event: the subscribers each node holds, the database's statements per committed event
 *    (from pg_stat_statements, by kind), and database CPU per event.
 * 2. The NOTIFY ceiling: `--notify-connections` connections committing single-row inserts into
 *    `orders` (trigger, position lock, NOTIFY) as fast as they can for `--notify-seconds`, with
 *    one node listening; then the same with 100 rows per commit.
 *
 * Prints a Markdown table per part; docs/scaling.md explains the figures.
 */
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import WebSocket from 'ws';
import { Cluster } from '../scripts/chaos/cluster.ts';
import { postmasterPid } from './database.ts';
import { postgresCpuSeconds } from './proc-stats.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1,2,3' },
    subscribers: { type: 'string', default: '100,400' },
    events: { type: 'string', default: '200' },
    rate: { type: 'string', default: '100' },
    'notify-seconds': { type: 'string', default: '5' },
    'notify-connections': { type: 'string', default: '8' },
  },
});
const list = (s: string) => s.split(',').map(Number);
const nodeCounts = list(values.nodes);
const subscriberCounts = list(values.subscribers).sort((a, b) => a - b);
const events = Number(values.events);
const rate = Number(values.rate);
const notifySeconds = Number(values['notify-seconds']);
const notifyConnections = Number(values['notify-connections']);
for (const n of [...nodeCounts, ...subscriberCounts, events, rate, notifySeconds, notifyConnections]) {
  if (!Number.isInteger(n) || n < 1) {
    console.error('every option takes positive whole numbers (lists comma-separated)');
    process.exit(2);
  }
}

const PG_STATS = ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.track=all'];
const log = (line: string) => process.stderr.write(`${line}\n`);

/** A raw tRPC subscriber: counts the events it receives. */
class Subscriber {
  received = 0;
  started = false;
  readonly socket: WebSocket;
  constructor(url: string, after: string) {
    this.socket = new WebSocket(`${url.replace('http', 'ws')}/trpc`);
    this.socket.on('error', () => {});
    this.socket.on('message', (raw) => {
      const text = String(raw);
      if (text.includes('"type":"started"')) this.started = true;
      else if (text.includes('"type":"data"')) this.received++;
    });
    this.socket.once('open', () =>
      this.socket.send(JSON.stringify({ id: 1, method: 'subscription', params: { path: 'orders.onChange', input: { lastEventId: after } } })),
    );
  }
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 120_000) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sampleOf = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

type Row = Record<string, string | number>;
const rows: Row[] = [];

for (const nodes of nodeCounts) {
  log(`capacity: ${nodes} node(s) behind HAProxy`);
  const cluster = await Cluster.start(nodes, {
    viaHaproxy: true,
    databaseFlags: PG_STATS,
    env: { MAX_CONNECTIONS_PER_ADDRESS: '100000' },
  });
  const sql = postgres(cluster.databaseUrl, { max: 1, onnotice: () => {} });
  const pid = postmasterPid(cluster.directory);
  try {
    await sql`create extension if not exists pg_stat_statements`;
    const subscribers: Subscriber[] = [];
    for (const count of subscriberCounts) {
      const [{ p: from }] = await sql<[{ p: string }]>`select coalesce(max(id), 0)::text as p from order_events`;
      for (const s of subscribers) s.received = 0;
      while (subscribers.length < count) subscribers.push(new Subscriber(cluster.haproxy!.url, from));
      await until(() => subscribers.every((s) => s.started), `${count} subscribers to start`);
      const perNode = await Promise.all(
        cluster.nodes.map(async (n) => sampleOf(await (await fetch(`${n.url}/metrics`)).text(), 'live_orders_subscriptions')),
      );
      // Subscribers opened earlier started at an older position: count only what follows.
      await new Promise((r) => setTimeout(r, 500));
      for (const s of subscribers) s.received = 0;

      await sql`select pg_stat_statements_reset()`;
      const cpuBefore = postgresCpuSeconds(pid);
      const started = performance.now();
      for (let i = 0; i < events; i++) {
        const wait = started + (i * 1000) / rate - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        await sql`insert into orders (customer_name, product_name) values ('capacity', ${`event ${i}`})`;
      }
      await until(() => subscribers.every((s) => s.received >= events), 'every subscriber to get every event');
      const seconds = (performance.now() - started) / 1000;
      const cpu = postgresCpuSeconds(pid) - cpuBefore;
      const stats = await sql<{ kind: string; calls: string }[]>`
        select case
                 when query ilike '%pg_stat_statements%' then 'bench'
                 -- The trigger's own statements: the same for every write, whoever listens.
                 when query ilike '%pg_notify%' or query ilike '%pg_advisory_xact_lock%' or query ilike 'insert into order_events%'
                   then 'in the trigger'
                 when query ilike 'insert into orders%' then 'writes'
                 when query ilike '%from "order_events"%' or query ilike '%from order_events%' then 'log reads'
                 when query ilike 'select $1' or query ilike 'select 1' then 'health checks'
                 else 'other'
               end as kind,
               sum(calls)::text as calls
        from pg_stat_statements group by 1`;
      const calls = (kind: string) => Number(stats.find((s) => s.kind === kind)?.calls ?? 0);
      rows.push({
        nodes,
        subscribers: count,
        'per node': perNode.join(' / '),
        events,
        'log reads / event': (calls('log reads') / events).toFixed(2),
        'log reads / node / event': (calls('log reads') / events / nodes).toFixed(2),
        'trigger statements / event': (calls('in the trigger') / events).toFixed(2),
        'other statements / event': (calls('other') / events).toFixed(2),
        'health checks / s': (calls('health checks') / seconds).toFixed(1),
        'DB CPU ms / event': ((cpu * 1000) / events).toFixed(2),
      });
      log(`  ${JSON.stringify(rows.at(-1))}`);
    }
    for (const s of subscribers) s.socket.terminate();
  } finally {
    await sql.end();
    await cluster.close();
  }
}

// The NOTIFY ceiling, with one node listening (its log reads are part of the cost).
log('capacity: the NOTIFY ceiling');
const ceiling: Row[] = [];
{
  const cluster = await Cluster.start(1, { viaHaproxy: false });
  const sql = postgres(cluster.databaseUrl, { max: notifyConnections, onnotice: () => {} });
  try {
    for (const perCommit of [1, 100]) {
      let commits = 0;
      const end = performance.now() + notifySeconds * 1000;
      const rowsSql = Array.from({ length: perCommit }, () => ({ customer_name: 'ceiling', product_name: 'notify' }));
      await Promise.all(
        Array.from({ length: notifyConnections }, async () => {
          while (performance.now() < end) {
            await sql`insert into orders ${sql(rowsSql)}`;
            commits++;
          }
        }),
      );
      ceiling.push({
        'rows per commit': perCommit,
        connections: notifyConnections,
        'commits / s': Math.round(commits / notifySeconds),
        'events / s': Math.round((commits * perCommit) / notifySeconds),
      });
      log(`  ${JSON.stringify(ceiling.at(-1))}`);
    }
  } finally {
    await sql.end();
    await cluster.close();
  }
}

const table = (data: Row[]) => {
  const heads = Object.keys(data[0]!);
  return [`| ${heads.join(' | ')} |`, `| ${heads.map(() => '---').join(' | ')} |`, ...data.map((r) => `| ${heads.map((h) => r[h]).join(' | ')} |`)].join('\n');
};
console.log(`capacity bench, ${new Date().toISOString()}, events ${events} at ${rate}/s\n`);
console.log(table(rows));
console.log('\nNOTIFY ceiling\n');
console.log(table(ceiling));
process.exit(0);
