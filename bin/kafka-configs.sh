#!/usr/bin/env bash
# Apache Kafka's kafka-configs.sh on Gregor: Kafka's flags, Kafka's output (`bin/kafka-configs.sh --help`).
exec "$(dirname "$0")/gregor-run.sh" kafka-configs.sh "$@"
