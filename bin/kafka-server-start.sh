#!/usr/bin/env bash
# Apache Kafka's kafka-server-start.sh on Gregor: Kafka's flags, Kafka's output (`bin/kafka-server-start.sh --help`).
exec "$(dirname "$0")/gregor-run.sh" kafka-server-start.sh "$@"
