import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { TRPCClient } from '@trpc/client';
import { expect, test } from 'vitest';
import type { AppRouter as ServerRouter } from '../../../server/routers/app.ts';
import type { AppRouter } from './app-router.ts';

// Checked by `npm run typecheck`: a client typed by either router is a client typed by the
// other, in both directions, procedure by procedure.
const clientOfServer = null as unknown as TRPCClient<ServerRouter>;
export const asSpelledOut: TRPCClient<AppRouter> = clientOfServer;
export const asServer: TRPCClient<ServerRouter> = asSpelledOut;

test('src/app-router.ts is what the server router gives (regenerate with npm run build)', () => {
  const root = path.resolve(import.meta.dirname, '..');
  // Throws, with the script's message, when the file differs.
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/router-type.ts', '--check'], { cwd: root, stdio: 'pipe' });
  expect(true).toBe(true);
});
