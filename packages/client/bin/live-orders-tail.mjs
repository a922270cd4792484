#!/usr/bin/env node
// The `live-orders-tail` command. Its code is built into dist/; this file exists before any
// build, so that `npm ci` in the repository links the command (npm skips a missing target).
try {
  await import('../dist/tail.mjs');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/tail.mjs')) throw err;
  process.stderr.write('live-orders-tail: not built yet: run `npm run build` (or `npm run build:client`) first\n');
  process.exit(2);
}
