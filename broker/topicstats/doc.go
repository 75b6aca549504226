// Package topicstats counts a broker's client traffic per topic, as Kafka's BrokerTopicMetrics
// do: records and bytes appended by producers on this leader (MessagesIn, BytesIn), bytes sent
// to consumers (BytesOut; follower fetches are replication, not counted), produce and fetch
// requests per partition and how many failed, and — Gregor's own — records sent to consumers
// (MessagesOut). It exports them to Prometheus under the names Kafka's JMX exporter setups
// give them (kafka_server_brokertopicmetrics_*_total{topic}), with the all-topics series as
// topic="" (an empty label is no label to Prometheus, which is what the JMX exporter emits).
//
// broker/api calls it on the request path: one map load and a few atomic adds per partition,
// no lock. It counts what it is told and must not look at logs, replicas or the network.
//
// Concurrency: topics is a sync.Map of per-topic counters (atomics); no mutex, no goroutine.
package topicstats
