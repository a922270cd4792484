import { defineConfig } from 'tsdown';

/**
 * ES modules and their declarations in dist/. The code this package shares with the server
 * (shared/: the event's shape, positions, protocol constants) is bundled in, and so are the
 * types of the server's router: a consumer gets a typed client from these declarations alone,
 * with none of the server's own dependencies installed.
 */
export default defineConfig({
  entry: { index: 'src/index.ts', solid: 'src/solid.ts', tail: 'src/tail.ts' },
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  dts: { tsconfig: 'tsconfig.json' },
  sourcemap: true,
  clean: true,
});
