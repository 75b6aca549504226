#!/usr/bin/env bash
# Apache Kafka's kafka-console-producer.sh on Gregor: Kafka's flags, Kafka's output (`bin/kafka-console-producer.sh --help`).
exec "$(dirname "$0")/gregor-run.sh" kafka-console-producer.sh "$@"
