#!/usr/bin/env bash
# Apache Kafka's zookeeper-shell.sh on Gregor: Kafka's flags, Kafka's output (`bin/zookeeper-shell.sh --help`).
exec "$(dirname "$0")/gregor-run.sh" zookeeper-shell.sh "$@"
