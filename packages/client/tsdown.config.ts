import { defineConfig } from 'tsdown';

/**
 * ES modules and their declarations in dist/. The code this package shares with the server
 * (shared/: the event's shape, positions, protocol constants) is bundled in; the router's
 * type comes from src/app-router.ts (generated, see scripts/router-type.ts), so a consumer
 * gets a typed client from these declarations alone, with none of the server's dependencies.
 */
const common = { format: 'esm', target: 'es2022', sourcemap: true, hash: false } as const;

export default defineConfig([
  // The library: for browsers and Node alike.
  { ...common, entry: { index: 'src/index.ts', solid: 'src/solid.ts' }, platform: 'neutral', dts: { tsconfig: 'tsconfig.json' }, clean: true },
  // The `live-orders-tail` command: Node only, nothing to declare.
  { ...common, entry: { tail: 'src/tail.ts' }, platform: 'node', dts: false, clean: false },
]);
