#!/usr/bin/env bash
# Apache Kafka's kafka-reassign-partitions.sh on Gregor: Kafka's flags, Kafka's output (`bin/kafka-reassign-partitions.sh --help`).
exec "$(dirname "$0")/gregor-run.sh" kafka-reassign-partitions.sh "$@"
