import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';
import solid from 'vite-plugin-solid';

const root = fileURLToPath(new URL('.', import.meta.url));

// `npm run dev:web` proxies the API to a server started with `npm run dev`.
export default defineConfig({
  root,
  plugins: [solid()],
  // The client package (`live-orders-client`) from its sources: one build, no stale dist/.
  resolve: { conditions: ['live-orders-source', ...defaultClientConditions] },
  build: { outDir: fileURLToPath(new URL('../dist/web', import.meta.url)), emptyOutDir: true },
  server: {
    proxy: {
      '/trpc': { target: 'http://127.0.0.1:4000', ws: true },
      '/api': 'http://127.0.0.1:4000',
      '/healthz': 'http://127.0.0.1:4000',
    },
  },
});
