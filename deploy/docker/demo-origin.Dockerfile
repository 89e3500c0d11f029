# syntax=docker/dockerfile:1
# The demo origin: a stdlib-only file server standing in for a customer's
# web server, serving Debian's mate-backgrounds photos. For docker compose;
# production origins are the customers' own servers.
#
#   docker build -f deploy/docker/demo-origin.Dockerfile -t pictor/demo-origin:TAG .

FROM golang:1.26-bookworm AS build
# Both programs are single files outside any module.
COPY scripts/demo-origin/main.go /src/demo-origin/main.go
COPY deploy/docker/healthcheck/main.go /src/healthcheck/main.go
RUN --mount=type=cache,target=/root/.cache/go-build \
    cd /src/demo-origin && \
    CGO_ENABLED=0 GOWORK=off go build -trimpath -ldflags="-s -w" -o /out/demo-origin main.go && \
    cd /src/healthcheck && \
    CGO_ENABLED=0 GOWORK=off go build -trimpath -ldflags="-s -w" -o /out/healthcheck main.go

# The photos come from Debian's package, as in the dev stack.
FROM debian:bookworm-slim AS photos
RUN apt-get update && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mate-backgrounds && \
    rm -rf /var/lib/apt/lists/*

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=photos /usr/share/backgrounds/mate/ /usr/share/backgrounds/mate/
COPY --from=build /out/demo-origin /out/healthcheck /usr/local/bin/
USER 65532:65532
EXPOSE 8079
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/healthcheck", "http://127.0.0.1:8079/healthz"]
# -addr :8079 listens on every interface: the binary's default, 127.0.0.1,
# is unreachable from outside the container. -dir keeps its default, the
# directory the photos were copied to.
ENTRYPOINT ["/usr/local/bin/demo-origin", "-addr", ":8079"]
