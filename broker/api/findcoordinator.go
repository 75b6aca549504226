package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/network"
)

// FindCoordinator key types.
const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

// findCoordinator answers where a group's coordinator is: the leader of the group's
// __consumer_offsets partition, reachable on the request's listener (Kafka's
// handleFindCoordinatorRequest). The first request for a group creates __consumer_offsets, as
// Kafka does, and answers COORDINATOR_NOT_AVAILABLE until its partitions have leaders; with
// fewer live brokers than offsets.topic.replication.factor it is not created. v4 (KIP-699)
// batches keys. There is no transaction coordinator: transactional ids are answered
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, as Produce answers them.
func (h *Handler) findCoordinator(ctx context.Context, r *network.Request, req *kmsg.FindCoordinatorRequest) *kmsg.FindCoordinatorResponse {
	resp := kmsg.NewPtrFindCoordinatorResponse()
	resp.SetVersion(r.Version)
	keys := req.CoordinatorKeys
	if r.Version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	snap := h.snapshot(ctx)
	for _, key := range keys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		c.NodeID, c.Port = -1, -1
		ep, id, err := h.coordinatorFor(snap, r.Listener, req.CoordinatorType, key)
		if err != nil {
			c.ErrorCode, c.ErrorMessage = ErrorCode(err), errorMessage(err)
		} else {
			c.NodeID, c.Host, c.Port = id, ep.Host, ep.Port
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	if r.Version < 4 {
		c := resp.Coordinators[0]
		resp.Coordinators = nil
		resp.ErrorCode, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.NodeID, c.Host, c.Port
		if r.Version >= 1 {
			resp.ErrorMessage = c.ErrorMessage
		}
	}
	return resp
}

// coordinatorFor finds one key's coordinator endpoint and broker id.
func (h *Handler) coordinatorFor(snap *metadata.Snapshot, listener string, keyType int8, key string) (metadata.Endpoint, int32, error) {
	switch keyType {
	case coordinatorGroup:
	case coordinatorTransaction:
		return metadata.Endpoint{}, -1, errorf(kerr.TransactionalIDAuthorizationFailed, "transactions are not supported by this broker")
	default:
		return metadata.Endpoint{}, -1, errorf(kerr.InvalidRequest, "Unknown coordinator type received: %d", keyType)
	}
	t, ok := snap.Topic(consumerOffsetsTopic)
	if !ok {
		err := h.autoCreateTopic(snap, consumerOffsetsTopic)
		if kafkaError(err) == kerr.CoordinatorNotAvailable {
			return metadata.Endpoint{}, -1, err
		}
		return metadata.Endpoint{}, -1, errorf(kerr.CoordinatorNotAvailable, "%s is being created", consumerOffsetsTopic)
	}
	p := group.PartitionFor(key, int32(len(t.Partitions)))
	part, ok := snap.Partition(consumerOffsetsTopic, p)
	if !ok || part.Leader < 0 {
		return metadata.Endpoint{}, -1, errorf(kerr.CoordinatorNotAvailable, "%s-%d has no leader", consumerOffsetsTopic, p)
	}
	b, ok := snap.Broker(part.Leader)
	if !ok {
		return metadata.Endpoint{}, -1, errorf(kerr.CoordinatorNotAvailable, "leader %d of %s-%d is not alive", part.Leader, consumerOffsetsTopic, p)
	}
	ep, ok := b.Endpoint(listener)
	if !ok {
		return metadata.Endpoint{}, -1, errorf(kerr.CoordinatorNotAvailable, "leader %d of %s-%d has no listener %s", part.Leader, consumerOffsetsTopic, p, listener)
	}
	return ep, b.ID, nil
}
