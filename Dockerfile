# syntax=docker/dockerfile:1
# One image, two roles: `node dist/apps/api/src/main.js` or `node dist/apps/worker/src/main.js`.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json nest-cli.json ./
COPY apps apps
COPY libs libs
COPY tools tools
COPY test test
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules node_modules
COPY --from=build --chown=node:node /app/dist dist
COPY --chown=node:node package.json ./
# Downloaded weights (npm run models -- pull); a named volume mounted here starts owned by node.
RUN mkdir -p /cache && chown node:node /cache
ENV MODELS_CACHE_DIR=/cache
USER node
EXPOSE 8080
CMD ["node", "dist/apps/api/src/main.js"]
