# Gregor broker image: the one static `gregor` binary, configured by KAFKA_* variables over a
# minimal file as the common Kafka images are, with a health check and a clean stop on SIGTERM.
#
# The base images are build arguments so that a machine without a registry can build this same
# file with local bases (scripts/compose-test.sh: a Debian + Go image it makes itself, and
# RUNTIME_IMAGE=scratch). The runtime stage has no RUN: it works on a base without a shell.
ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/gregor ./cmd/gregor
RUN mkdir -p /out/etc/gregor /out/var/lib/gregor /out/tmp && chmod 1777 /out/tmp && \
    printf 'log.dirs: /var/lib/gregor\n' > /out/etc/gregor/broker.yaml

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/gregor /usr/local/bin/gregor
COPY --from=build /out/etc/gregor /etc/gregor
COPY --from=build /out/var/lib/gregor /var/lib/gregor
COPY --from=build /out/tmp /tmp
VOLUME /var/lib/gregor
# 9092: the Kafka listener of the default config; 9404: gregor.metrics.listen as the compose
# file sets it (/metrics and the cluster page).
EXPOSE 9092 9404
# SIGTERM: the broker closes its listeners, stops replication, flushes and checkpoints its logs
# and closes its ZooKeeper session, well within Docker's default 10 s stop timeout.
STOPSIGNAL SIGTERM
# Healthy = answers ApiVersions and Metadata on its inter-broker listener, registered, with a
# controller (see `gregor healthcheck -h`).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/gregor", "healthcheck", "--config", "/etc/gregor/broker.yaml"]
ENTRYPOINT ["/usr/local/bin/gregor", "broker", "--config", "/etc/gregor/broker.yaml"]
