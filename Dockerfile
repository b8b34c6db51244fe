# syntax=docker/dockerfile:1
#
# A provex node image:
#
#   docker build -t provex:v1.0.0 --build-arg VERSION=v1.0.0 \
#     --build-arg COMMIT="$(git rev-parse HEAD)" .
#   docker run -v provex-data:/data -v "$PWD/tls:/tls:ro" \
#     -p 7400:7400 -p 8400:8400 provex:v1.0.0 --member cao-bang --tls-dir /tls
#
# See README.md, "Running a node".

# Build: mattn/go-sqlite3 is cgo, so the builder has gcc and glibc headers
# (the golang image does), and the binary is built by the release script,
# with the flags a release is built with.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# .git stays out of the build context (.dockerignore): the version and
# commit come in as arguments.
ARG VERSION=dev
ARG COMMIT=unknown
RUN COMMIT="$COMMIT" DIST=/out ./scripts/release.sh "$VERSION" \
 && cp /out/provex-*/provex /provex \
 && mkdir -m 0700 /data && chown 65532:65532 /data

# Run: distroless base is glibc (the cgo binary links libc, so static or
# musl images are out) with CA certificates and nothing else: no shell, no
# package manager, about 20 MB against bookworm-slim's 75. Its nonroot user
# is 65532.
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /provex /usr/local/bin/provex
COPY packaging/container.yaml /etc/provex/node.yaml
# A named volume starts with this directory's owner and mode: the node's
# user, 0700. A bind mount needs chown 65532:65532 on the host.
COPY --from=build --chown=65532:65532 /data /data
USER 65532:65532
VOLUME ["/data"]
# gRPC API, HTTP/JSON gateway, sync with peers (the manifest's address;
# 9400 by convention).
EXPOSE 7400 8400 9400
# No HEALTHCHECK: the image has no shell or curl, and provex has no health
# client command; the node serves grpc.health.v1 and GET /healthz (over its
# TLS) for the orchestrator's probes.
ENTRYPOINT ["/usr/local/bin/provex", "serve", "--config", "/etc/provex/node.yaml"]
