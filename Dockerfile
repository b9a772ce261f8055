# Cairn as a container image: `docker build -t cairn .` (docker-compose.yml builds it for you).
# Two stages: the first compiles TypeScript with every dependency installed, the second keeps
# only what `node dist/src/main.js` needs and runs it as the unprivileged `node` user.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# swagger-ui-dist pulls in Scarf's install-time analytics; a build should not phone home.
ENV SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    CAIRN_HOST=0.0.0.0 \
    CAIRN_PORT=3000 \
    CAIRN_CONTENT_PORT=3001 \
    CAIRN_DATA_DIR=/var/lib/cairn
WORKDIR /app
# Only the embedded-PostgreSQL fallback (no DATABASE_URL) and local blobs write here.
RUN mkdir -p /var/lib/cairn && chown node:node /var/lib/cairn
COPY --from=build --chown=root:root /app/package.json /app/package-lock.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
USER node
EXPOSE 3000 3001
# /readyz checks the database and the blob store; the image has no curl, node has fetch.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.CAIRN_PORT || 3000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--max-semi-space-size=8", "dist/src/main.js"]
