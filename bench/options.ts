import { parseArgs } from 'node:util';

export const SCENARIOS = ['fanout', 'wide', 'writes', 'ordering', 'catchup', 'memory', 'startup', 'glance'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** Every size the run uses, in one place, so smoke and full differ only here. */
export type Sizes = {
  /** subscriber counts for the fan-out scenario */
  fanoutSubscribers: number[];
  /** changes per second of the fixed-rate phase, and how long it runs */
  fixedRate: number;
  fixedRateSeconds: number;
  /** events sent at the fixed rate before it is measured, by us and by the baseline alike */
  warmupEvents: number;
  /** deliveries (events x subscribers) the flood phase aims at; the event count follows */
  floodDeliveries: number;
  floodMinEvents: number;
  floodMaxEvents: number;
  /** client processes the subscribers are split across */
  subscriberProcesses: number;
  writeProcesses: number;
  /** calls in flight per write process */
  writeConcurrency: number;
  writeSeconds: number;
  /** orders.createMany calls per write process, 1,000 orders each */
  createManyCallsPerProcess: number;
  catchUpEvents: number;
  idleSubscribers: number;
  pausedReaderEvents: number;
  startupRuns: number;
  /** the wide fan-out: many subscribers at a low rate (no flood) */
  wide: { subscribers: number; rate: number; seconds: number; warmupEvents: number };
  /** the glance queries: a shop of this many orders, this many events per order after its create */
  glance: { orders: number; rounds: number; calls: number };
  /** longest a single phase may wait for its deliveries */
  phaseDeadlineMs: number;
  /** quiet time before a measurement, so set-up work (connections, GC) is not counted */
  settleMs: number;
};

const FULL: Sizes = {
  fanoutSubscribers: [100, 1_000, 5_000],
  fixedRate: 50,
  fixedRateSeconds: 5,
  warmupEvents: 25,
  floodDeliveries: 300_000,
  floodMinEvents: 60,
  floodMaxEvents: 3_000,
  subscriberProcesses: 2,
  writeProcesses: 4,
  writeConcurrency: 8,
  writeSeconds: 8,
  createManyCallsPerProcess: 10,
  catchUpEvents: 100_000,
  idleSubscribers: 1_000,
  pausedReaderEvents: 50_000,
  startupRuns: 3,
  wide: { subscribers: 10_000, rate: 5, seconds: 10, warmupEvents: 5 },
  glance: { orders: 100_000, rounds: 10, calls: 25 },
  phaseDeadlineMs: 30_000,
  settleMs: 2_000,
};

const SMOKE: Sizes = {
  fanoutSubscribers: [20],
  fixedRate: 50,
  fixedRateSeconds: 1,
  warmupEvents: 5,
  floodDeliveries: 4_000,
  floodMinEvents: 100,
  floodMaxEvents: 200,
  subscriberProcesses: 2,
  writeProcesses: 4,
  writeConcurrency: 4,
  writeSeconds: 0.5,
  createManyCallsPerProcess: 1,
  catchUpEvents: 2_000,
  idleSubscribers: 50,
  pausedReaderEvents: 2_000,
  startupRuns: 1,
  wide: { subscribers: 200, rate: 5, seconds: 2, warmupEvents: 2 },
  glance: { orders: 2_000, rounds: 10, calls: 5 },
  phaseDeadlineMs: 15_000,
  settleMs: 300,
};

export type Options = { smoke: boolean; only: ScenarioName[]; sizes: Sizes };

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      subscribers: { type: 'string' },
      'wide-subscribers': { type: 'string' },
      'wide-seconds': { type: 'string' },
    },
  });
  const only = values.only === undefined ? [...SCENARIOS] : values.only.split(',').map((s) => s.trim());
  for (const name of only) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new Error(`--only: unknown scenario "${name}" (known: ${SCENARIOS.join(', ')})`);
    }
  }
  const smoke = values.smoke ?? false;
  const sizes = { ...(smoke ? SMOKE : FULL) };
  if (values.subscribers !== undefined) {
    // --subscribers 1000: one fan-out size only, for working on it.
    sizes.fanoutSubscribers = values.subscribers.split(',').map((n) => {
      const count = Number(n);
      if (!Number.isInteger(count) || count < 1) throw new Error(`--subscribers: "${n}" is not a positive whole number`);
      return count;
    });
  }
  // --wide-subscribers 2000 --wide-seconds 4: a smaller wide fan-out, for a busy machine.
  const whole = (name: string, value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: "${value}" is not a positive whole number`);
    return n;
  };
  sizes.wide = { ...sizes.wide };
  if (values['wide-subscribers'] !== undefined) sizes.wide.subscribers = whole('wide-subscribers', values['wide-subscribers']);
  if (values['wide-seconds'] !== undefined) sizes.wide.seconds = whole('wide-seconds', values['wide-seconds']);
  return { smoke, only: only as ScenarioName[], sizes };
}
