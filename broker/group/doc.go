// Package group is the broker's group coordinator: Kafka's consumer-group protocol (JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup), committed offsets (OffsetCommit, OffsetFetch,
// OffsetDelete) and the admin view of groups (ListGroups, DescribeGroups, DeleteGroups).
//
// A group lives on the leader of its __consumer_offsets partition,
// abs(javaStringHashCode(group.id)) % partitions — Kafka's mapping, so every Kafka tool agrees
// on where it is. Groups and offsets are stored in that partition as records in Kafka's own
// schemas (kmsg's OffsetCommitKey/Value and GroupMetadataKey/Value, with Kafka's version
// numbers), written through the replica manager's Produce with offsets.commit.required.acks;
// a commit is acknowledged only once that write is. When the broker becomes a partition's
// leader (OnElection) the partition's groups are replayed from its log, to the log end rather
// than the high watermark (a follower that becomes leader holds every acknowledged commit but
// may not yet have learnt the high watermark covering the last ones, and a leader never
// truncates); when it stops leading (OnResignation) they are dropped. A load is installed only
// for the election that queued it.
//
// The state machine is Kafka's GroupCoordinator/GroupMetadata: Empty → PreparingRebalance →
// CompletingRebalance → Stable, and Dead; the initial rebalance delay; session and rebalance
// timeouts; MEMBER_ID_REQUIRED (KIP-394); static membership (KIP-345); group.max.size; protocol
// selection by vote among the protocols every member supports. Member metadata and assignments
// are passed through untouched, so any assignor works, eager or cooperative.
//
// It owns groups, members and the offset cache. It must not touch ZooKeeper, the network or
// partition leadership: it is told about leadership by broker/api's LeaderAndIsr and StopReplica
// handlers, writes only through replica.Manager.Produce and reads __consumer_offsets only from
// the local log (klog.Manager.Log) of a partition it leads. It knows no Kafka error codes;
// broker/api maps its sentinel errors.
//
// # Goroutines and who stops them
//
//   - the loader (loadLoop): started by Start, loads elected partitions one at a time in
//     election order; stopped by Shutdown (context cancelled, Coordinator.wg).
//   - the expiry loop (expiryLoop): started by Start, removes expired offsets every
//     offsets.retention.check.interval.ms; stopped by Shutdown (Coordinator.wg).
//   - one write goroutine per __consumer_offsets append (appendLocked): waits for the group's
//     previous write, calls Produce, runs the write's callback; ends when the write is
//     acknowledged or fails. Shutdown cancels the context they produce with and waits for them
//     (Coordinator.writers).
//   - timers (Clock.AfterFunc): the join phase of a rebalance (rebalance timeout, initial
//     delay), each member's session, each MEMBER_ID_REQUIRED member's deadline. A timer's
//     function only takes its group's mu and re-checks a sequence number; a stale fire does
//     nothing. Shutdown and unloading stop them.
//
// Request handlers run on the caller's goroutine. JoinGroup and SyncGroup park the caller on a
// channel that the rebalance answers, never on a sleep.
//
// # Locks (docs/locking.md)
//
//   - Coordinator.mu (RW) guards the group map, the partitions led (loading or loaded), their
//     epochs and the load queue. Never held while taking a Group.mu or doing I/O.
//   - Group.mu guards everything about one group: state, members, timers' bookkeeping, offsets.
//     Held while answering parked requests (their callbacks only send on a buffered channel),
//     never across I/O: a write is handed to a write goroutine and its callback re-takes the
//     lock. Never held while taking Coordinator.mu.
//   - Coordinator.writeMu, a leaf taken under Group.mu: guards the start of write goroutines
//     against Shutdown.
//
// api.Handler.stateMu (LeaderAndIsr, StopReplica) is held while calling OnElection and
// OnResignation, which take Coordinator.mu and then, after releasing it, Group.mu.
package group
