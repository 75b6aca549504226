# Gregor broker image: the one `gregor` binary on a small Debian base.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/gregor ./cmd/gregor

FROM debian:bookworm-slim
COPY --from=build /out/gregor /usr/local/bin/gregor
# Configuration comes from KAFKA_* environment variables (KAFKA_BROKER_ID, KAFKA_LISTENERS, ...)
# over this minimal file, as the common Kafka images do.
RUN mkdir -p /etc/gregor /var/lib/gregor && printf 'log.dirs: /var/lib/gregor\n' > /etc/gregor/broker.yaml
VOLUME /var/lib/gregor
EXPOSE 9092
ENTRYPOINT ["gregor", "broker", "--config", "/etc/gregor/broker.yaml"]
