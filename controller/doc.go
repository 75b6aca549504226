// Package controller is Kafka's ZooKeeper-mode controller: election through the ephemeral
// /controller znode and /controller_epoch, the partition and replica state machines (new
// partitions get a leader and ISR written to .../partitions/<p>/state; a dead leader is replaced
// by the next live ISR member), topic creation (picked up from /brokers/topics, whoever wrote
// it) and deletion (/admin/delete_topics), and the LeaderAndIsr / UpdateMetadata / StopReplica
// requests that tell brokers what to do, sent over the Kafka protocol. A broker whose log
// directory failed (KIP-112) is asked, on its /log_dir_event_notification, which replicas are
// offline: those answering KAFKA_STORAGE_ERROR to a LeaderAndIsr lose leadership and ISR
// membership and are never elected until the broker restarts (logdirs.go).
//
// It must not touch a broker's logs or metadata cache directly: even the controller's own broker
// learns its state from the requests, as in Kafka. ZooKeeper access goes through zkmeta.
//
// Concurrency: one event goroutine (loop) owns all controller state (the `state` struct); ZK
// watch callbacks, broker responses and the broker's session notifications only enqueue events.
// Watch goroutines belong to a term (cancelled when the controller resigns) or to a ZooKeeper
// session (cancelled on expiry); Stop waits for all of them. Each broker channel has its own
// sender goroutine, stopped when the broker dies or the controller resigns.
package controller
