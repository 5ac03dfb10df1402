# syntax=docker/dockerfile:1
# Fathom images: one build stage, three targets.
#   docker build --target api        -t fathom-api .          (also the default target)
#   docker build --target worker     -t fathom-worker .
#   docker build --target worker-gpu -t fathom-worker-gpu .   (CUDA 12 + cuDNN 9 runtime; ORT_EXECUTION_PROVIDERS=cuda,cpu)
# deploy/compose/docker-compose.yml builds api and worker; docker-compose.gpu.yml swaps in worker-gpu.
# Every target runs as the unprivileged user `node` (uid 1000) from root-owned, read-only code.

ARG NODE_IMAGE=node:20.20.2-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04

FROM ${NODE_IMAGE} AS node

# Compile with every dependency: tsc, then tools/copy-assets.js puts the model manifests
# (libs/models/manifests) and the web page (apps/api/src/web/public) next to the compiled code.
FROM node AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json nest-cli.json ./
COPY apps apps
COPY libs libs
COPY tools tools
RUN npm run build \
 && test -f dist/apps/api/src/main.js && test -f dist/apps/worker/src/main.js \
 && test -d dist/libs/models/manifests && test -d dist/apps/api/src/web/public

# Production dependencies for CPU images. onnxruntime-node ships its CPU binaries for every
# platform inside the package (.npmrc skips the download step): keep this platform's only.
FROM node AS prod-deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund \
 && arch="$(node -p process.arch)" \
 && find node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 ! -name linux -exec rm -rf {} + \
 && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 -path '*/linux/*' ! -name "$arch" -exec rm -rf {} +

# Production dependencies for the GPU worker: the CUDA 12 execution provider is downloaded by
# onnxruntime-node's install step (linux/x64 only), so this stage needs the network.
FROM node AS prod-deps-cuda
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund --onnxruntime-node-install=cuda12 \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so \
 && find node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 ! -name linux -exec rm -rf {} + \
 && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 -path '*/linux/*' ! -name x64 -exec rm -rf {} +

FROM node AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
# Downloaded weights (npm run models -- pull); a named volume mounted here starts owned by node.
RUN mkdir -p /cache && chown node:node /cache
ENV MODELS_CACHE_DIR=/cache
USER node

FROM runtime AS worker
# glibc's malloc as `npm start` sets it for its worker (tools/start/child-env.ts): two arenas, and
# large blocks mmapped, so a model unloaded at runtime gives its memory back (docs/benchmarks.md).
ENV WORKER_METRICS_PORT=9464 \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072
EXPOSE 9464
CMD ["node", "dist/apps/worker/src/main.js"]

FROM ${CUDA_IMAGE} AS worker-gpu
# Same uid as the node images, so a model cache volume is shared between CPU and GPU workers.
RUN groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --create-home --shell /usr/sbin/nologin node \
 && mkdir -p /cache && chown node:node /cache
# Node 20: the official binary from the same image the other targets run on.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production \
    MODELS_CACHE_DIR=/cache \
    WORKER_METRICS_PORT=9464 \
    ORT_EXECUTION_PROVIDERS=cuda,cpu \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY --from=prod-deps-cuda /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
USER node
EXPOSE 9464
CMD ["node", "dist/apps/worker/src/main.js"]

# Last, so a plain `docker build .` still gives the API image, as the single-image Dockerfile did.
FROM runtime AS api
EXPOSE 8080
# A container serves other machines: listen on every interface, and every request needs an API key.
ENV HOST=0.0.0.0 \
    API_AUTH=keys
CMD ["node", "dist/apps/api/src/main.js"]
