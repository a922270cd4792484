import { defineConfig } from 'vitest/config';

/** The integration tests that also run with the server's DATABASE_URL pointing at PgBouncer. */
const THROUGH_PGBOUNCER = [
  'test/subscriptions.test.ts', // the seam and resume
  'test/mutations.test.ts', // idempotency
  'test/event-log.test.ts', // history, events.list, SQL writes
  'test/commit-order.test.ts',
  'test/listener-recovery.test.ts',
  'test/database-outage.test.ts',
  'test/commit-in-doubt.test.ts', // a commit in doubt, through a relay to PgBouncer
];

export default defineConfig({
  test: {
    // One embedded PostgreSQL for the run per project; each test file gets its own database in it.
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'direct', include: ['server/**/*.test.ts', 'shared/**/*.test.ts', 'client/**/*.test.ts', 'test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'pgbouncer', include: THROUGH_PGBOUNCER, provide: { viaPgBouncer: true } },
      },
    ],
  },
});
