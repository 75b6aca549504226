// Package replica owns the partitions this broker hosts: for each, whether it leads or follows,
// its leader epoch, replicas and ISR, its log, and — on the leader — the high watermark and the
// waiters parked on it (acks=all produces and long-poll fetches). The controller's
// LeaderAndIsr/StopReplica requests change that state; Produce, Fetch, ListOffsets and
// DeleteRecords read and write through it.
//
// It must not talk to ZooKeeper or the network, and knows no Kafka error codes (broker/api maps
// its sentinel errors).
//
// Concurrency: Manager.mu guards the partition map and the controller epoch. Each Partition has
// its own mu guarding its leadership fields, follower offsets and the notify channel. Lock order:
// Manager.mu → Partition.mu → (klog) Log.mu; Manager.mu is never held while waiting or doing I/O.
// Waiters are woken by closing a partition's notify channel, which is replaced under
// Partition.mu whenever data becomes visible (the high watermark moves) or leadership changes.
// Nothing polls.
//
// Follower replication (fetching from the leader) comes with the cluster issue: a follower here
// keeps its log and answers NOT_LEADER_OR_FOLLOWER to clients; the leader already tracks
// followers' fetch offsets to advance the high watermark and release acks=all waiters.
package replica
