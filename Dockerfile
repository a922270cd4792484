# syntax=docker/dockerfile:1
# live-orders: the steps CI runs (.ci/run: `npm run build`, then `npm run check:production`,
# which installs with `npm ci --omit=dev` and starts `npm run start:prod`), in three stages.
#
#   docker build -t live-orders .
#   docker run -e DATABASE_URL=… -e DIRECT_DATABASE_URL=… -e AUTH_TOKENS=… -p 4000:4000 live-orders
#
# See README "Deploy" for the settings, and deploy/compose.yaml for a whole setup.

ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Build: every dependency, then the client package (tsdown), the page (vite) and the server
# (tsc) into dist/ and packages/client/dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The client package is an npm workspace: npm ci needs its package.json.
COPY packages/client/package.json ./packages/client/
# The install applies the postgres.js patch (postinstall: patch-package).
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# 2. Production dependencies only (the postgres.js patch applies here too).
FROM ${NODE_IMAGE} AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
# Its command (bin/ loads dist/), linked by npm ci as node_modules/.bin/live-orders-tail.
COPY packages/client/bin ./packages/client/bin
COPY --from=build /app/packages/client/dist ./packages/client/dist
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# 3. Run: node on the built JavaScript; no tsx, no vite, no dev dependency. The tail is there
# too: `docker exec -it <container> npx live-orders-tail`.
FROM ${NODE_IMAGE}
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000
WORKDIR /app
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY --from=production-dependencies /app/packages ./packages
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 4000
# The node itself, not `npm run start:prod`, so that SIGTERM from `docker stop` reaches it
# (npm would die of it first) and the node drains and shuts down in order.
CMD ["node", "--enable-source-maps", "dist/server/main.js"]
