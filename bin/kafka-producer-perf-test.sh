#!/usr/bin/env bash
# Apache Kafka's kafka-producer-perf-test.sh on Gregor: Kafka's flags, Kafka's output (`bin/kafka-producer-perf-test.sh --help`).
exec "$(dirname "$0")/gregor-run.sh" kafka-producer-perf-test.sh "$@"
