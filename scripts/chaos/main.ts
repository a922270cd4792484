/**
 * npm run chaos -- --seconds 120 [--nodes 3] [--seed 42] [--fault-every-ms 1500] [--faults node-kill,database-restart] [--via-haproxy] [--ordering sequenced]
 *
 * --via-haproxy puts a real HAProxy (deploy/haproxy.cfg) in front of the nodes: every client
 * and API writer goes through it, the nodes trust its X-Forwarded-For, and the faults include
 * node-stop (SIGTERM: drain, leave HAProxy, clients move to the others).
 * Runs the delivery guarantees through a storm (see run.ts) and prints one line per check;
 * exits 1 on any violation. A failing run can be repeated with the seed it printed.
 */
import { parseArgs } from 'node:util';
import { FAULT_KINDS, HAPROXY_FAULT_KINDS, SEQUENCED_FAULT_KINDS, type FaultKind } from './faults.ts';
import { closeAllClusters } from './cluster.ts';
import { runChaos } from './run.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    nodes: { type: 'string', default: '3' },
    seed: { type: 'string' },
    'fault-every-ms': { type: 'string', default: '1500' },
    faults: { type: 'string' },
    'via-haproxy': { type: 'boolean', default: false },
    /** EVENT_ORDERING of every node */
    ordering: { type: 'string', default: 'commit' },
  },
});
const viaHaproxy = values['via-haproxy'];
const seconds = Number(values.seconds);
const nodes = Number(values.nodes);
const faultEveryMs = Number(values['fault-every-ms']);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (![seconds, nodes, faultEveryMs, seed].every((n) => Number.isInteger(n) && n >= 0) || nodes < 1 || seconds < 1) {
  console.error('--seconds, --nodes, --fault-every-ms and --seed take whole numbers (seconds and nodes at least 1)');
  process.exit(2);
}

if (values.ordering !== 'commit' && values.ordering !== 'sequenced') {
  console.error('--ordering is commit or sequenced');
  process.exit(2);
}
const eventOrdering = values.ordering;
const known: readonly FaultKind[] = viaHaproxy ? HAPROXY_FAULT_KINDS : eventOrdering === 'sequenced' ? SEQUENCED_FAULT_KINDS : FAULT_KINDS;

const faults = (values.faults ?? known.join(',')).split(',').filter(Boolean) as FaultKind[];
const unknown = faults.filter((f) => !known.includes(f));
if (unknown.length > 0) {
  console.error(`unknown fault kind(s): ${unknown.join(', ')}; known${viaHaproxy ? ' with --via-haproxy' : ''}: ${known.join(', ')}`);
  process.exit(2);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`chaos: ${signal}, stopping the nodes and the database`);
    void closeAllClusters().finally(() => process.exit(130));
  });
}

const result = await runChaos({ seconds, nodes, seed, faultEveryMs, faults, viaHaproxy, eventOrdering, quietDeadlineMs: 60_000, print: (l) => console.log(l) });
process.exit(result.ok ? 0 : 1);
