// Package replica owns the partitions this broker hosts: for each, whether it leads or follows,
// its leader epoch, replicas and ISR, its log, and — on the leader — the high watermark, the
// followers' fetch state and the waiters parked on it (acks=all produces and long-poll
// fetches); on a follower, the replica fetcher that copies the leader's log. The controller's
// LeaderAndIsr/StopReplica requests change that state; Produce, Fetch, ListOffsets,
// OffsetForLeaderEpoch and DeleteRecords read and write through it. docs/replication.md tells
// the whole story.
//
// Replication, as Apache Kafka 2.8 does it:
//
//   - Followers fetch (fetcher.go) with Fetch v12, one fetcher goroutine per source broker and
//     fetcher index (num.replica.fetchers), sending their log end and the epoch of their last
//     batch. The leader answers a DivergingEpoch when the follower's log left its own there,
//     and the follower truncates (follower.go) — Kafka 2.7+'s truncation on fetch, the
//     KIP-101/KIP-279 rule — or, on OFFSET_OUT_OF_RANGE, looks up the leader's log end or start
//     with ListOffsets and truncates or starts over there. Each fetcher keeps an incremental
//     fetch session with its leader (fetchsession.go, KIP-227): it names only the partitions
//     whose position changed and forgets those it stopped fetching; the leader's side of
//     sessions is broker/fetchsession's.
//   - The leader (leader.go) records each follower's fetch offset and when it was last caught
//     up; the high watermark is the smallest log end over the ISR. A follower that has not caught
//     up for replica.lag.time.max.ms is proposed out of the ISR, one that has reached the high
//     watermark and the leader's epoch start is proposed in; proposals go to the controller as
//     AlterIsr (alterisr.go), and the ISR changes when the controller has written it.
//   - acks=all waits until the high watermark passes the append; min.insync.replicas refuses
//     before the append, and after it if the ISR shrank while waiting.
//   - Replication throttles (quota.go), Kafka's ReplicationQuotaManager: for the partitions a
//     topic's *.replication.throttled.replicas name for this broker, a leader answers followers
//     outside the ISR without records, and a follower leaves partitions that have not caught up
//     out of its fetches, while the measured rate of throttled bytes (11 windows of 1 s) is above
//     *.replication.throttled.rate. The broker package sets rates and lists from ZooKeeper.
//   - A failed disk (KIP-112): a produce whose append hit an I/O error answers
//     KAFKA_STORAGE_ERROR, the log having undone the append, so neither the log end nor the
//     high watermark moves past the last good batch. HandleLogDirFailure then marks every
//     partition of that log directory offline (Kafka's HostedPartition.Offline): Produce, Fetch,
//     ListOffsets, LeaderAndIsr and StopReplica answer KAFKA_STORAGE_ERROR for it — which is how
//     the controller learns which replicas are offline — its fetcher stops, and acks=all
//     produces parked on it are released with KAFKA_STORAGE_ERROR, never acknowledged.
//
// It talks to other brokers only through broker/interbroker and never to ZooKeeper; it knows
// Kafka error codes only as the fetcher reads them in the leader's answers (broker/api maps its
// sentinel errors for clients).
//
// Concurrency (docs/locking.md): Manager.mu guards the partition map and the controller epoch.
// Each Partition has its own mu guarding its leadership fields, ISR, follower state and notify
// channels. Lock order: Manager.mu → Partition.mu → alterISRSender.mu (and quota.mu, a leaf),
// and Partition.mu → (klog) Log.mu. Manager.mu is never held while waiting or doing I/O; no partition lock is
// held across a network round trip. Waiters are woken by closing a partition's notify channel —
// hwNotify when the high watermark moves (consumers, acks=all), leoNotify when the log end
// moves (followers' long polls) — replaced under Partition.mu; both close on a leadership
// change. Nothing polls.
//
// Goroutines: the ISR expiry loop and the AlterIsr sender, started by NewManager; one goroutine
// per replica fetcher, started when a partition is first followed from that leader and stopped
// when it holds no partition. Shutdown stops them all.
package replica
