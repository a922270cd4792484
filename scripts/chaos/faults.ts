import postgres from 'postgres';
import { LISTENER_APPLICATION_NAME } from '../../server/events/listener.ts';
import { sleep } from '../../server/retry.ts';
import type { Cluster, Node } from './cluster.ts';
import type { Random } from './random.ts';
import { dropRandomSocket, type ChaosSubscriber } from './subscribers.ts';

export const FAULT_KINDS = ['subscriber-drop', 'subscriber-resume', 'node-kill', 'listener-kill', 'database-restart'] as const;
/** With EVENT_ORDERING=sequenced also a sequencer batch killed mid-way (in commit ordering there is rarely one to kill). */
export const SEQUENCED_FAULT_KINDS = [...FAULT_KINDS, 'sequencer-kill'] as const;
/**
 * Behind HAProxy also a graceful stop: SIGTERM, the node drains (HAProxy takes it out), tells
 * its clients to reconnect (through HAProxy, to the others) and exits; then it comes back.
 */
export const HAPROXY_FAULT_KINDS = [...FAULT_KINDS, 'node-stop'] as const;
export type FaultKind = (typeof HAPROXY_FAULT_KINDS)[number] | (typeof SEQUENCED_FAULT_KINDS)[number];
export type FaultCounts = Partial<Record<FaultKind, number>>;

/**
 * Injects one fault at a time, every `everyMs` or so, cycling through the kinds in a
 * shuffled order so that every kind happens in any run long enough for one cycle. A graceful
 * stop takes seconds (the drain), so it goes on while the next faults are injected.
 */
export async function injectFaults(opts: {
  cluster: Cluster;
  subscribers: ChaosSubscriber[];
  random: Random;
  everyMs: number;
  kinds: readonly FaultKind[];
  signal: AbortSignal;
}): Promise<FaultCounts> {
  const { cluster, subscribers, random, signal } = opts;
  const counts = Object.fromEntries(opts.kinds.map((k) => [k, 0])) as FaultCounts;
  let cycle: FaultKind[] = [];
  /** nodes being stopped and started again in the background; no other fault touches them */
  const restarting = new Map<Node, Promise<void>>();
  const pickNode = () => {
    const free = cluster.nodes.filter((n) => !restarting.has(n));
    return free.length > 0 ? random.pick(free) : undefined;
  };

  while (!signal.aborted) {
    await sleep(opts.everyMs / 2 + random.int(opts.everyMs), signal);
    if (signal.aborted) break;
    if (opts.kinds.length === 0) continue;
    if (cycle.length === 0) cycle = [...opts.kinds].sort(() => random.next() - 0.5);
    const kind = cycle.pop()!;
    if (await inject(kind)) counts[kind] = (counts[kind] ?? 0) + 1;
  }
  await Promise.all(restarting.values());
  return counts;

  async function inject(kind: FaultKind): Promise<boolean> {
    switch (kind) {
      case 'subscriber-drop':
        return dropRandomSocket(random);
      case 'subscriber-resume': {
        const resumable = subscribers.filter((s) => s.kind === 'resume');
        if (resumable.length === 0) return false;
        await random.pick(resumable).resume();
        return true;
      }
      case 'node-stop': {
        const node = pickNode();
        if (!node) return false;
        const stopAndStart = (async () => {
          await node.stop();
          await node.start();
        })().finally(() => restarting.delete(node));
        restarting.set(node, stopAndStart);
        return true;
      }
      case 'node-kill': {
        const node = pickNode();
        if (!node) return false;
        await node.kill();
        await sleep(200 + random.int(800));
        await node.start();
        return true;
      }
      case 'listener-kill': {
        const sql = postgres(cluster.databaseUrl, { max: 1, connect_timeout: 2, onnotice: () => {} });
        try {
          // Materialized: the filter runs before pg_terminate_backend is called on any row.
          const killed = await sql`
            with listeners as materialized (
              select pid from pg_stat_activity where application_name = ${LISTENER_APPLICATION_NAME}
            )
            select pid from listeners
            where pid = (select pid from listeners order by random() limit 1) and pg_terminate_backend(pid)`;
          return killed.length > 0;
        } finally {
          await sql.end({ timeout: 1 });
        }
      }
      case 'sequencer-kill': {
        // A sequencer batch in progress (EVENT_ORDERING=sequenced: one every few ms; in commit
        // ordering only the slow sweep), killed mid-batch: it must roll back whole.
        const sql = postgres(cluster.databaseUrl, { max: 1, connect_timeout: 2, onnotice: () => {} });
        try {
          for (let attempt = 0; attempt < 50; attempt++) {
            // Materialized, as above: nothing but a batch (never this connection) is killed.
            const killed = await sql`
              with batches as materialized (
                select pid from pg_stat_activity
                where state = 'active' and query = 'select order_events_sequence()::text as last' and pid <> pg_backend_pid()
              )
              select pid from batches where pg_terminate_backend(pid)`;
            if (killed.length > 0) return true;
          }
          return false;
        } finally {
          await sql.end({ timeout: 1 });
        }
      }
      case 'database-restart':
        await cluster.stopDatabase();
        await sleep(300 + random.int(1_200));
        await cluster.startDatabase();
        return true;
    }
  }
}
