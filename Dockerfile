# One image for the API and the workers; the command picks which (see docker-compose.yml).
# The toolchains come from Debian packages through the same script the README and CI use.
FROM node:20-bookworm-slim AS base
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY scripts/install-toolchains.sh scripts/install-toolchains.sh
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl util-linux \
 && bash scripts/install-toolchains.sh --runtime \
 && rm -rf /var/lib/apt/lists/*

FROM base AS build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json nest-cli.json ./
COPY src src
COPY workers workers
COPY migrations migrations
COPY scripts scripts
COPY test test
COPY compiler compiler
COPY clients clients
COPY console console
RUN npm run build && npm prune --omit=dev

FROM base AS runtime
ENV NODE_ENV=production \
    KILN_HOST=0.0.0.0 \
    KILN_PORT=8080 \
    KILN_STORAGE_DIR=/var/lib/kiln/objects \
    KILN_WORK_DIR=/var/lib/kiln/work \
    KILN_LOG_FORMAT=json
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/console/dist console/dist
COPY package.json ./
COPY openapi openapi
# Neither the API nor the worker handles tenants' files as root: bubblewrap makes its sandbox with
# user namespaces. The worker's container starts as root (docker-compose.yml) only so that its
# privileged helper can mount each build's size-limited folder and make cgroup folders; the
# worker drops to KILN_WORKER_USER before anything else.
ENV KILN_WORKER_USER=node
RUN mkdir -p /var/lib/kiln/objects /var/lib/kiln/work \
 && chown -R node:node /var/lib/kiln/objects && chmod 0711 /var/lib/kiln/work
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
CMD ["node", "dist/src/main.js"]
