package replica

import "errors"

// Sentinel errors; broker/api maps them to Kafka's codes.
var (
	ErrNotLeaderOrFollower     = errors.New("this broker is not the leader of the partition")
	ErrUnknownTopicOrPartition = errors.New("this broker does not host the partition")
	ErrNotEnoughReplicas       = errors.New("fewer in-sync replicas than min.insync.replicas")
	// ErrNotEnoughReplicasAfterAppend: written and replicated to the ISR, but the ISR shrank
	// below min.insync.replicas before the write was acknowledged.
	ErrNotEnoughReplicasAfterAppend = errors.New("the ISR shrank below min.insync.replicas after the append")
	ErrRequestTimedOut              = errors.New("replication did not complete within the timeout")
	ErrFencedLeaderEpoch            = errors.New("leader epoch in the request is older than the broker's")
	ErrUnknownLeaderEpoch           = errors.New("leader epoch in the request is newer than the broker's")
	ErrStaleControllerEpoch         = errors.New("request from a controller with an older epoch")
	ErrKafkaStorage                 = errors.New("log directory failure")
	ErrShutdown                     = errors.New("replica manager is shutting down")
)
