// Package api holds the broker's Kafka request handlers: one file per API (metadata.go,
// produce.go, fetch.go, ...), a Handler that dispatches on the request key and implements
// network.Handler, and errors.go, the one place where Go errors of the other packages (broker/log,
// broker/replica, zkmeta, controller, config) become Kafka error codes.
//
// It owns the translation between the wire (kmsg structs, versions, error codes) and the
// broker's packages. It must not own state of its own beyond what a handler needs to answer:
// partitions belong to broker/replica, the cluster view to broker/metadata, ZooKeeper writes to
// zkmeta, leadership decisions to the controller. It never touches sockets (broker/network) and
// never decodes records (batches go to broker/replica as the raw []byte of the request frame).
//
// # Concurrency
//
// Handler.Handle is called concurrently, one goroutine per request (see broker/network).
// JoinGroup and SyncGroup park their goroutine in broker/group until the rebalance answers them
// (or the connection closes).
// Handlers keep no per-request state in Handler. The controller → broker requests
// (LeaderAndIsr, UpdateMetadata, StopReplica) are serialized by Handler.stateMu, which also
// guards Handler.controllerEpoch — the equivalent of Kafka's replicaStateChangeLock. Producer id
// blocks are handed out under ProducerIDs.mu. Admin requests that wait for the metadata cache
// (CreateTopics, CreatePartitions, DeleteTopics) wait on its Changed channel, bounded by the
// request timeout (capped, limits.go) and the connection's context. A handler about to wait for
// an event — those, a long-poll Fetch, an acks=all Produce — calls network.Parked first, so the
// wait does not hold a place in queued.max.requests.
//
// # Limits
//
// Every size or wait a client chooses is capped here before any subsystem is called
// (limits.go): fetch.max.bytes, long-poll and request waits, partitions per topic and request.
package api
