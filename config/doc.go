// Package config is the broker's configuration: a flat YAML file keyed by Apache Kafka's own
// property names (`broker.id`, `listeners`, `log.dirs`, `zookeeper.connect`, ...), Kafka's
// defaults, validation with errors that name the key and the file, and `KAFKA_*` environment
// overrides as the common Kafka container images apply them. It also knows the topic-level
// configs (`retention.ms`, `cleanup.policy`, ...), their types and their broker-level synonyms,
// for CreateTopics, AlterConfigs and DescribeConfigs, and the dynamic broker configs
// (/config/brokers: the replication throttle rates) with the throttled-replicas lists.
//
// It holds values only: it must not start anything, open files other than the config file, or
// import any other package of the project.
package config
