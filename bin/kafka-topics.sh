#!/usr/bin/env bash
# Apache Kafka's kafka-topics.sh on Gregor: Kafka's flags, Kafka's output (`bin/kafka-topics.sh --help`).
exec "$(dirname "$0")/gregor-run.sh" kafka-topics.sh "$@"
