#!/usr/bin/env bash
# Apache Kafka's kafka-dump-log.sh on Gregor: Kafka's flags, Kafka's output (`bin/kafka-dump-log.sh --help`).
exec "$(dirname "$0")/gregor-run.sh" kafka-dump-log.sh "$@"
