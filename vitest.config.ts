import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

/** The integration tests that also run with the server's DATABASE_URL pointing at PgBouncer. */
const THROUGH_PGBOUNCER = [
  'test/subscriptions.test.ts', // the seam and resume
  'test/mutations.test.ts', // idempotency
  'test/event-log.test.ts', // history, events.list, SQL writes
  'test/commit-order.test.ts',
  'test/listener-recovery.test.ts',
  'test/database-outage.test.ts',
  'test/resume-ids.test.ts', // the digest and the resume check
  'test/commit-in-doubt.test.ts', // a commit in doubt, through a relay to PgBouncer
  'test/create-batching.test.ts', // group commit of creates, without pipelining
];

/**
 * The guarantee tests, run again with EVENT_ORDERING=sequenced. (test/sequenced-log.test.ts
 * sets it itself, so it runs in `direct` and `pgbouncer`.)
 */
const SEQUENCED = [
  'test/subscriptions.test.ts', // the seam and resume
  'test/event-log.test.ts',
  'test/commit-order.test.ts',
  'test/listener-recovery.test.ts',
  'test/database-outage.test.ts',
  'test/resume-ids.test.ts',
  'test/chaos.test.ts',
  'test/glance.test.ts', // counts exact at their position, under concurrent writes
  'test/time-travel.test.ts',
  'test/live-client-counts.test.ts',
  'test/create-batching.test.ts', // group commit of creates: answers after their events are positioned
];

export default defineConfig({
  // Tests import the client package (`live-orders-client`) from its sources, not its build.
  ssr: { resolve: { conditions: ['live-orders-source', ...defaultServerConditions] } },
  test: {
    // One embedded PostgreSQL for the run per project; each test file gets its own database in it.
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'direct', include: ['server/**/*.test.ts', 'shared/**/*.test.ts', 'packages/client/src/**/*.test.ts', 'test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'pgbouncer', include: [...THROUGH_PGBOUNCER, 'test/sequenced-log.test.ts'], provide: { viaPgBouncer: true } },
      },
      {
        extends: true,
        test: { name: 'sequenced', include: SEQUENCED, provide: { eventOrdering: 'sequenced' } },
      },
      {
        extends: true,
        test: {
          name: 'sequenced-pgbouncer',
          include: ['test/subscriptions.test.ts', 'test/commit-order.test.ts'],
          provide: { viaPgBouncer: true, eventOrdering: 'sequenced' },
        },
      },
    ],
  },
});
