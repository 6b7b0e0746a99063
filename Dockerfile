# syntax=docker/dockerfile:1
# One image recipe for the three processes; pick one with --target api | worker | simulator.
# Node 24 runs the TypeScript sources directly (type stripping), so there is no build step.

FROM node:24-slim AS base
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH
RUN npm install -g pnpm@12.21.0 && npm cache clean --force
WORKDIR /app
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json .npmrc ./
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/simulator/package.json apps/simulator/
COPY packages/shared/package.json packages/shared/
COPY packages/store/package.json packages/store/
COPY packages/client/package.json packages/client/
COPY packages/test-utils/package.json packages/test-utils/

FROM base AS deps-api
RUN pnpm install --frozen-lockfile --prod --filter "@herald/api..."
FROM base AS deps-worker
RUN pnpm install --frozen-lockfile --prod --filter "@herald/worker..."
FROM base AS deps-simulator
RUN pnpm install --frozen-lockfile --prod --filter @herald/simulator

FROM node:24-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0
USER node

FROM runtime AS api
COPY --from=deps-api --chown=node /app /app
COPY --chown=node packages/shared packages/shared
COPY --chown=node packages/store packages/store
COPY --chown=node apps/api apps/api
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/api/notifications/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "apps/api/src/server.ts"]

FROM runtime AS worker
COPY --from=deps-worker --chown=node /app /app
COPY --chown=node packages/shared packages/shared
COPY --chown=node packages/store packages/store
COPY --chown=node apps/worker apps/worker
EXPOSE 9464
# SIGTERM: the worker finishes in-flight jobs, then exits 0; give it time to.
STOPSIGNAL SIGTERM
CMD ["node", "apps/worker/src/main.ts"]

FROM runtime AS simulator
ENV SIMULATOR_PORT=4010
COPY --from=deps-simulator --chown=node /app /app
COPY --chown=node packages/shared packages/shared
COPY --chown=node apps/simulator apps/simulator
EXPOSE 4010
CMD ["node", "apps/simulator/src/server.ts"]
