#!/usr/bin/env bash
# Apache Kafka's kafka-consumer-groups.sh on Gregor: Kafka's flags, Kafka's output (`bin/kafka-consumer-groups.sh --help`).
exec "$(dirname "$0")/gregor-run.sh" kafka-consumer-groups.sh "$@"
