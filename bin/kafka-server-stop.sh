#!/usr/bin/env bash
# Apache Kafka's kafka-server-stop.sh on Gregor: Kafka's flags, Kafka's output (`bin/kafka-server-stop.sh --help`).
exec "$(dirname "$0")/gregor-run.sh" kafka-server-stop.sh "$@"
