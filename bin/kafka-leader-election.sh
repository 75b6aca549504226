#!/usr/bin/env bash
# Apache Kafka's kafka-leader-election.sh on Gregor: Kafka's flags, Kafka's output (`bin/kafka-leader-election.sh --help`).
exec "$(dirname "$0")/gregor-run.sh" kafka-leader-election.sh "$@"
