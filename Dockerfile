# breakwater's container image. Build: docker build -t breakwater:0.1.0 .
# Run:   docker run --rm -p 9901:9901 -v $PWD/config:/etc/breakwater:ro breakwater:0.1.0 \
#          start --config /etc/breakwater/default.yaml
# The Helm library chart (charts/breakwater) runs it with the config from a ConfigMap.

# --- build: compile TypeScript, then keep only the runtime dependencies ----------------------
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime: Node and the compiled sidecar, nothing else -----------------------------------
FROM node:20-bookworm-slim
# config/default.yaml reads these: admin reachable from outside the container, spool on a volume
ENV NODE_ENV=production \
    BREAKWATER_ADMIN_LISTEN=0.0.0.0:9901 \
    BREAKWATER_SPOOL_DIR=/var/lib/breakwater/spool
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY config ./config
# A numeric non-root user, so Kubernetes can verify runAsNonRoot; the spool lives on a volume.
RUN groupadd --gid 10001 breakwater \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin breakwater \
 && mkdir -p /var/lib/breakwater/spool && chown 10001:10001 /var/lib/breakwater/spool
USER 10001:10001
EXPOSE 9901
# Exec form: node is PID 1 and gets SIGTERM itself; breakwater stops accepting, drains
# in-flight requests for shutdown.drainTimeout, flushes the CDC batch and exits 0.
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["start", "--config", "/app/config/default.yaml"]
