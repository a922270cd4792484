/**
 * `npm run check:upgrade`: would the newest @trpc/server, @trpc/client and ws still be spoken
 * correctly by our WebSocket transport? In a temporary copy of this checkout (node_modules
 * copied, so only those three are fetched), installs their latest versions, type-checks, and
 * runs the conformance tests (test/ws-conformance.test.ts with our router,
 * test/ws-any-router.test.ts with one of its own), which compare our transport with tRPC's
 * own adapter of that version, message by message, and the event-path test. This checkout is
 * not touched.
 *
 *   npm run check:upgrade                  # latest of each
 *   npm run check:upgrade -- @trpc/server@11.26.0 @trpc/client@11.26.0 ws@8.24.0
 *
 * Exit code 0 when all pass: then raise the exact versions in package.json.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const targets = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['@trpc/server@latest', '@trpc/client@latest', 'ws@latest'];
const SKIP = new Set(['.git', '.data', 'dist', '.bench']);

const copy = await mkdtemp(path.join(tmpdir(), 'live-orders-upgrade-'));
// As root, the embedded PostgreSQL runs as its own user, which must reach its binaries here.
await chmod(copy, 0o755);
let code = 1;
try {
  process.stderr.write(`check:upgrade: copying the checkout to ${copy}\n`);
  await cp(root, copy, {
    recursive: true,
    filter: (source) => !SKIP.has(path.relative(root, source).split(path.sep)[0]!),
  });
  const npm = (args: string[]) => execFileSync('npm', args, { cwd: copy, stdio: 'inherit' });
  // --ignore-scripts: the copied node_modules already has its postinstall patches applied.
  npm(['install', '--no-audit', '--no-fund', '--ignore-scripts', '--save-exact', ...targets]);
  const installed = await Promise.all(
    ['@trpc/server', '@trpc/client', 'ws'].map(async (name) => {
      const pkg = JSON.parse(await readFile(path.join(copy, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
      return `${name}@${pkg.version}`;
    }),
  );
  process.stderr.write(`check:upgrade: testing with ${installed.join(', ')}\n`);
  const typecheck = spawnSync('npx', ['tsc', '--noEmit', '-p', 'tsconfig.json'], { cwd: copy, stdio: 'inherit' });
  const conformance = spawnSync('npx', ['vitest', 'run', 'test/ws-conformance.test.ts', 'test/ws-any-router.test.ts', 'test/ws-event-path.test.ts'], { cwd: copy, stdio: 'inherit' });
  code = typecheck.status === 0 && conformance.status === 0 ? 0 : 1;
  process.stdout.write(
    `\ncheck:upgrade with ${installed.join(', ')}: type-check ${typecheck.status === 0 ? 'passed' : 'FAILED'}, ` +
      `conformance ${conformance.status === 0 ? 'passed' : 'FAILED'}\n`,
  );
} finally {
  await rm(copy, { recursive: true, force: true });
}
process.exit(code);
