#!/usr/bin/env bash
# Apache Kafka's kafka-consumer-perf-test.sh on Gregor: Kafka's flags, Kafka's output (`bin/kafka-consumer-perf-test.sh --help`).
exec "$(dirname "$0")/gregor-run.sh" kafka-consumer-perf-test.sh "$@"
