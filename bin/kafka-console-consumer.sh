#!/usr/bin/env bash
# Apache Kafka's kafka-console-consumer.sh on Gregor: Kafka's flags, Kafka's output (`bin/kafka-console-consumer.sh --help`).
exec "$(dirname "$0")/gregor-run.sh" kafka-console-consumer.sh "$@"
