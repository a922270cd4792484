import postgres from 'postgres';
import { sleep } from '../../server/retry.ts';
import { matchesFilter, type EventFilter, type OrderEvent } from '../../shared/orders.ts';
import { Cluster } from './cluster.ts';
import { FAULT_KINDS, HAPROXY_FAULT_KINDS, injectFaults, SEQUENCED_FAULT_KINDS, type FaultKind } from './faults.ts';
import { Random } from './random.ts';
import { ChaosSubscriber, type SubscriberKind } from './subscribers.ts';
import { startWriters } from './writers.ts';

export type ChaosOptions = {
  seconds: number;
  nodes: number;
  seed: number;
  /** average pause between faults */
  faultEveryMs: number;
  /** which faults to inject (all by default) */
  faults?: readonly FaultKind[];
  /** clients and API writers through a real HAProxy in front of the nodes */
  viaHaproxy?: boolean;
  /** EVENT_ORDERING of every node (unset: the default, commit) */
  eventOrdering?: 'commit' | 'sequenced';
  /** how long the subscribers may take to catch up once everything is quiet */
  quietDeadlineMs: number;
  print: (line: string) => void;
};

export type ChaosResult = { ok: boolean; lines: string[] };

/**
 * Transactions that have written (or may be about to commit), other than the asker's own:
 * any with a transaction id, and any statement running (a backend still works through
 * statements its client sent before it went away, one transaction at a time).
 */
async function transactionsInFlight(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<[{ n: number }]>`
    select count(*)::int as n from pg_stat_activity
     where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'
       and (backend_xid is not null or state = 'active')`;
  return row!.n;
}

type LogRow = { id: string; order_id: string; order: OrderEvent['order']; type: OrderEvent['type'] };

const byPosition = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);
const fmt = (fields: Record<string, string | number>) =>
  Object.entries(fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

/**
 * A database, several nodes, subscribers spread across them, writers of every kind and faults
 * of every kind; then quiet, and the checks: each subscriber got exactly its filtered part of
 * the log, in order, once; the table equals the log folded from the start; nodes stop cleanly.
 */
export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const lines: string[] = [];
  const say = (line: string) => {
    lines.push(line);
    opts.print(line);
  };
  const random = new Random(opts.seed);
  say(`chaos       ${fmt({ seconds: opts.seconds, nodes: opts.nodes, seed: opts.seed, ...(opts.viaHaproxy ? { via: 'haproxy' } : {}), ...(opts.eventOrdering ? { ordering: opts.eventOrdering } : {}) })}`);

  const cluster = await Cluster.start(opts.nodes, {
    viaHaproxy: opts.viaHaproxy,
    env: opts.eventOrdering ? { EVENT_ORDERING: opts.eventOrdering } : {},
  });
  let ok = true;
  try {
    // Where clients and API writers connect: each node, or HAProxy alone.
    const nodeUrls = cluster.entryUrls;
    const sql = postgres(cluster.databaseUrl, { max: 2, onnotice: () => {} });
    const watched = await sql<{ id: string }[]>`
      insert into orders (customer_name, product_name) values ('watched', 'a'), ('watched', 'b') returning id`;
    const [{ start }] = await sql<[{ start: string }]>`select coalesce(max(id), 0)::text as start from order_events`;
    await sql.end();

    const specs: Array<[SubscriberKind, EventFilter]> = [
      ['auto', {}],
      ['auto', {}],
      ['resume', {}],
      ['auto', { status: 'shipped' }],
      ['resume', { status: 'cancelled' }],
      ['auto', { orderId: watched[0]!.id }],
      ['resume', { orderId: watched[1]!.id }],
    ];
    const subscribers = specs.map(
      ([kind, filter], i) => new ChaosSubscriber(`s${i + 1}`, kind, filter, start, nodeUrls, i % nodeUrls.length),
    );
    for (const s of subscribers) s.start();

    const stopWork = new AbortController();
    const writers = startWriters({
      nodeUrls,
      databaseUrl: cluster.databaseUrl,
      random,
      signal: stopWork.signal,
      watchedIds: watched.map((w) => w.id),
    });
    const faults = injectFaults({ cluster, subscribers, random, everyMs: opts.faultEveryMs, kinds: opts.faults ?? (opts.viaHaproxy ? HAPROXY_FAULT_KINDS : opts.eventOrdering === 'sequenced' ? SEQUENCED_FAULT_KINDS : FAULT_KINDS), signal: stopWork.signal });

    await sleep(opts.seconds * 1000);
    stopWork.abort();
    const faultCounts = await faults;
    await writers.done;

    // Quiet: the database and every node up, nothing being written.
    if (!cluster.databaseUp) await cluster.startDatabase();
    for (const node of cluster.nodes) if (!node.running) await node.start();

    const check = postgres(cluster.databaseUrl, { max: 1, onnotice: () => {} });
    // Every writer has its answer, but a commit can still be on its way: a backend waiting at
    // COMMIT does not notice that its client has gone (a killed node, a writer that gave up)
    // and commits when the wait ends. So the log is read once the database runs no
    // transaction but this one: from then on nothing can join it.
    const settleDeadline = Date.now() + opts.quietDeadlineMs;
    let inFlight = await transactionsInFlight(check);
    while (inFlight > 0 && Date.now() < settleDeadline) {
      await sleep(20);
      inFlight = await transactionsInFlight(check);
    }
    const readAt = new Date();
    const log = await check<LogRow[]>`
      select id::text, order_id::text, "order", type from order_events where order_events.id > ${start} order by order_events.id`;
    const w = writers.counts;
    say(`writes      ${fmt({ api: w.api, sql: w.sql, rolled_back: w.rolledBack, long_transactions: w.longTransactions, failed_attempts: w.failed, in_doubt: w.inDoubt, events_in_log: log.length })}`);
    if (inFlight > 0) {
      ok = false;
      say(`writes      FAIL: ${inFlight} transaction(s) still running ${opts.quietDeadlineMs} ms after the writers stopped`);
    }
    say(`faults      ${fmt(Object.fromEntries(Object.entries(faultCounts).map(([k, v]) => [k.replace('-', '_'), v])))}`);
    const missingKinds = Object.entries(faultCounts).filter(([, n]) => n === 0);
    if (missingKinds.length > 0) {
      ok = false;
      say(`faults      FAIL: never injected: ${missingKinds.map(([k]) => k).join(', ')}`);
    }

    // Every subscriber: exactly the log filtered by its filter, strictly increasing.
    const asEvent = (r: LogRow) => ({ id: r.id, orderId: r.order_id, order: r.order }) as OrderEvent;
    const expectedFor = (s: ChaosSubscriber) => log.filter((r) => matchesFilter(asEvent(r), s.filter)).map((r) => r.id);
    const deadline = Date.now() + opts.quietDeadlineMs;
    for (const s of subscribers) {
      const last = expectedFor(s).at(-1);
      while (last && byPosition(s.lastId, last) < 0 && Date.now() < deadline) await sleep(50);
    }
    for (const s of subscribers) {
      const expected = expectedFor(s);
      const expectedSet = new Set(expected);
      const seen = new Set<string>();
      let duplicated = 0;
      let outOfOrder = 0;
      let unexpected = 0;
      s.ids.forEach((id, i) => {
        if (seen.has(id)) duplicated++;
        seen.add(id);
        if (!expectedSet.has(id)) unexpected++;
        if (i > 0 && byPosition(id, s.ids[i - 1]!) <= 0) outOfOrder++;
      });
      const missing = expected.filter((id) => !seen.has(id)).length;
      const good = missing + duplicated + outOfOrder + unexpected + s.problems.length === 0 && expected.length > 0;
      ok &&= good;
      const filter = s.filter.status ? `status:${s.filter.status}` : s.filter.orderId ? `order:${s.filter.orderId}` : 'all';
      say(
        `subscriber  ${fmt({ name: s.name, kind: s.kind, filter, expected: expected.length, delivered: s.ids.length, missing, duplicated, out_of_order: outOfOrder, unexpected, server_errors: s.problems.length, client_retries: s.clientRetries })}  ${good ? 'ok' : 'FAIL'}`,
      );
      for (const p of s.problems.slice(0, 3)) say(`            ${s.name}: ${p}`);
      const strays = s.ids.filter((id) => !expectedSet.has(id)).slice(0, 3);
      if (strays.length > 0) {
        // In the log now, written before the read: it committed after the read (a late commit).
        const rows = await check<(LogRow & { actor: string; at: Date })[]>`
          select id::text, order_id::text, "order", type, actor, at from order_events where id = any(${strays}::bigint[])`;
        const described = rows.map((r) => `${r.id} ${r.type} order ${r.order_id} by ${r.actor} at ${r.at.toISOString()}`).join(', ');
        say(`            ${s.name}: not expected: ${strays.join(', ')} (start ${start}; log read at ${readAt.toISOString()}; in the log now: ${described || 'none'})`);
      }
      await s.stop();
    }

    // The table equals the log folded from the very start.
    const all = await check<LogRow[]>`select id::text, order_id::text, "order", type from order_events order by order_events.id`;
    const folded = new Map<string, string>();
    for (const r of all) {
      if (r.type === 'deleted') folded.delete(r.order_id);
      else folded.set(r.order_id, JSON.stringify(r.order, Object.keys(r.order).sort()));
    }
    const rows = await check<{ id: string; order: OrderEvent['order'] }[]>`select id::text, order_json(o) as order from orders o`;
    const differences: string[] = [];
    const inTable = new Set<string>();
    for (const row of rows) {
      inTable.add(row.id);
      const actual = JSON.stringify(row.order, Object.keys(row.order).sort());
      const expected = folded.get(row.id);
      if (expected !== actual) differences.push(`order ${row.id}: table ${actual}, log ${expected ?? '(deleted or absent)'}`);
    }
    for (const [id, expected] of folded) if (!inTable.has(id)) differences.push(`order ${id}: table (absent), log ${expected}`);
    const tableOk = differences.length === 0;
    ok &&= tableOk;
    say(`table       ${fmt({ rows: rows.length, folded_from_log: folded.size, differing: differences.length })}  ${tableOk ? 'ok' : 'FAIL'}`);
    for (const d of differences.slice(0, 3)) say(`            ${d}`);
    await check.end();

    // Graceful shutdown of every node: SIGTERM, clean exit.
    const codes = await Promise.all(cluster.nodes.map((n) => n.stop()));
    const clean = codes.filter((c) => c === 0).length;
    ok &&= clean === codes.length;
    say(`shutdown    ${fmt({ nodes: codes.length, clean_exits: clean })}  ${clean === codes.length ? 'ok' : 'FAIL'}`);
  } catch (err) {
    ok = false;
    say(`harness     FAIL: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    if (!ok && process.env.CHAOS_KEEP_DATABASE) {
      say(`kept        the database and node logs for a look in ${cluster.directory} (the database stops when this process exits)`);
      await cluster.haproxy?.stop();
      await Promise.all(cluster.nodes.map((n) => n.kill()));
    } else {
      await cluster.close();
    }
  }
  say(`result      ${ok ? 'PASS' : 'FAIL'}`);
  return { ok, lines };
}
