# syntax=docker/dockerfile:1
# Pictor's control plane: REST APIs, the edges' config stream (gRPC) and the
# database migrations, in one static binary.
#
#   docker build -f deploy/docker/controlplane.Dockerfile \
#     --build-arg VERSION="$(git describe --always --dirty)" -t pictor/controlplane:TAG .
#
# The build context is the repository root: the module builds on its own
# (GOWORK=off) and reaches proto/, migrations/, services/internal/ and web/
# through the replace directives of its go.mod, so those are copied too. The
# deploy module's test checks that every replace target is copied.

# The dashboard (web/, Vite) is built here, not taken from the context, so
# the image carries the app of this commit whatever the local web/dist/app
# holds (.dockerignore keeps that out).
FROM node:22-bookworm-slim AS dashboard
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY proto/ proto/
COPY migrations/ migrations/
COPY services/internal/ services/internal/
COPY web/ web/
# web embeds dist/ (go:embed): the placeholder from the context plus the app.
COPY --from=dashboard /web/dist/app/ web/dist/app/
COPY services/controlplane/ services/controlplane/
# The health probe is one stdlib-only file, built outside any module.
COPY deploy/docker/healthcheck/main.go /probe/main.go
ARG VERSION=dev
# The module and build caches outlive this layer: a source change neither
# downloads nor recompiles the dependencies again.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    cd /src/services/controlplane && \
    CGO_ENABLED=0 GOWORK=off go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" \
        -o /out/controlplane ./cmd/controlplane && \
    cd /probe && \
    CGO_ENABLED=0 GOWORK=off go build -trimpath -ldflags="-s -w" -o /out/healthcheck main.go

# No cgo, no shell needed: distroless static carries CA certificates (TLS to
# Postgres) and tzdata, nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="pictor-controlplane" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/controlplane /out/healthcheck /usr/local/bin/
USER 65532:65532
# 8080 HTTP (REST APIs, /healthz, /readyz), 8090 gRPC (edge config stream).
EXPOSE 8080 8090
# Liveness only: /readyz turns false while Postgres is unreachable, and a
# restart would not fix that.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/healthcheck", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/controlplane"]
CMD ["serve"]
