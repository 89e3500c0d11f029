# syntax=docker/dockerfile:1
# Pictor's edge: serves and transforms images with libvips (cgo).
#
#   docker build -f deploy/docker/edge.Dockerfile \
#     --build-arg VERSION="$(git describe --always --dirty)" -t pictor/edge:TAG .
#
# The build context is the repository root (see controlplane.Dockerfile).
# Build and runtime are both Debian 12 (bookworm), so the libvips the binary
# links against at build time is the one installed at run time.

FROM golang:1.26-bookworm AS build
# libvips headers for cgo; gcc and pkg-config come with the golang image.
RUN apt-get update && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libvips-dev && \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY proto/ proto/
COPY migrations/ migrations/
COPY services/internal/ services/internal/
COPY services/edge/ services/edge/
COPY deploy/docker/healthcheck/main.go /probe/main.go
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    cd /src/services/edge && \
    CGO_ENABLED=1 GOWORK=off go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" \
        -o /out/edge ./cmd/edge && \
    cd /probe && \
    CGO_ENABLED=0 GOWORK=off go build -trimpath -ldflags="-s -w" -o /out/healthcheck main.go

# libvips needs glibc and its shared libraries, so not distroless: slim
# Debian with libvips42 (bookworm's runtime package of libvips 8.14) and CA
# certificates for HTTPS origins.
FROM debian:bookworm-slim
ARG VERSION=dev
LABEL org.opencontainers.image.title="pictor-edge" \
      org.opencontainers.image.version="${VERSION}"
# The data dir holds the last good config snapshot (served while the control
# plane is unreachable). It is created here, owned by the runtime user, so
# that a fresh named volume mounted on it inherits that owner.
RUN apt-get update && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libvips42 ca-certificates \
        fonts-dejavu-core fonts-lohit-deva fonts-wqy-microhei opencv-data && \
    rm -rf /var/lib/apt/lists/* && \
    groupadd --gid 65532 pictor && \
    useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pictor && \
    install -d -o 65532 -g 65532 -m 0700 /var/lib/pictor-edge
COPY --from=build /out/edge /out/healthcheck /usr/local/bin/
USER 65532:65532
EXPOSE 8081
# Liveness only: /readyz is false until a config arrives, and a restart
# would not bring it sooner.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/healthcheck", "http://127.0.0.1:8081/healthz"]
ENTRYPOINT ["/usr/local/bin/edge"]
