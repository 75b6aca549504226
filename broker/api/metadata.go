package api

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/network"
)

// Authorized-operation bit fields Kafka returns without an authorizer: every operation the
// resource type supports (AclOperation codes: 3 READ, 4 WRITE, 5 CREATE, 6 DELETE, 7 ALTER,
// 8 DESCRIBE, 9 CLUSTER_ACTION, 10 DESCRIBE_CONFIGS, 11 ALTER_CONFIGS, 12 IDEMPOTENT_WRITE).
const (
	topicAuthorizedOps   = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11
	clusterAuthorizedOps = 1<<5 | 1<<7 | 1<<8 | 1<<9 | 1<<10 | 1<<11 | 1<<12
	authorizedOpsOmitted = -2147483648 // Kafka's "not requested" value
)

// firstMetadataWait bounds how long a request waits for the broker's first UpdateMetadata.
// Kafka would answer with an empty broker list during the few milliseconds between the socket
// opening and the controller's first UpdateMetadata; clients then fail or spin. Waiting (on the
// cache's change channel) for a bounded moment answers them with a usable view instead.
const firstMetadataWait = 5 * time.Second

// snapshot returns the metadata view, waiting briefly for the first UpdateMetadata.
func (h *Handler) snapshot(ctx context.Context) *metadata.Snapshot {
	snap := h.o.Cache.Snapshot()
	if snap.Initialized {
		return snap
	}
	// Waiting for the controller's first UpdateMetadata, which reaches this broker as a request
	// too: leave the request queue so a burst of such waits cannot keep it out.
	network.Parked(ctx)
	wctx, cancel := context.WithTimeout(ctx, firstMetadataWait)
	defer cancel()
	snap, _ = h.o.Cache.WaitFor(wctx, func(s *metadata.Snapshot) bool { return s.Initialized })
	return snap
}

func (h *Handler) metadata(ctx context.Context, r *network.Request, req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := kmsg.NewPtrMetadataResponse()
	resp.SetVersion(r.Version)
	snap := h.snapshot(ctx)

	for _, b := range snap.Brokers() {
		ep, ok := b.Endpoint(r.Listener)
		if !ok {
			continue // Kafka lists only brokers reachable on the request's listener
		}
		rb := kmsg.NewMetadataResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.Rack = b.ID, ep.Host, ep.Port, b.Rack
		resp.Brokers = append(resp.Brokers, rb)
	}
	cid := h.o.ClusterID
	resp.ClusterID = &cid
	resp.ControllerID = snap.ControllerID
	if req.IncludeClusterAuthorizedOperations && r.Version >= 8 && r.Version <= 10 {
		resp.AuthorizedOperations = clusterAuthorizedOps
	}

	// v0: an empty list means all topics; v1+: null means all, empty means none.
	all := req.Topics == nil || (r.Version == 0 && len(req.Topics) == 0)
	if all {
		for _, name := range snap.TopicNames() {
			t, _ := snap.Topic(name)
			resp.Topics = append(resp.Topics, h.topicMetadata(r, req, snap, t))
		}
		return resp
	}

	var toCreate []string
	seen := map[string]bool{}
	for _, rt := range req.Topics {
		if rt.Topic == nil {
			// v10+: lookup by topic id.
			mt := kmsg.NewMetadataResponseTopic()
			mt.TopicID = rt.TopicID
			t, ok := snap.TopicByID(rt.TopicID)
			if !ok {
				mt.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			resp.Topics = append(resp.Topics, h.topicMetadata(r, req, snap, t))
			continue
		}
		name := *rt.Topic
		if seen[name] {
			continue // Kafka answers each requested topic once
		}
		seen[name] = true
		if t, ok := snap.Topic(name); ok {
			resp.Topics = append(resp.Topics, h.topicMetadata(r, req, snap, t))
			continue
		}
		toCreate = append(toCreate, name)
	}
	// Auto-creation: v0–v3 have no flag and always allow it; v4+ ask with AllowAutoTopicCreation.
	allow := h.o.Config.AutoCreateTopicsEnable && (r.Version < 4 || req.AllowAutoTopicCreation)
	for _, name := range toCreate {
		var err error
		if allow {
			err = h.autoCreateTopic(snap, name)
		} else if err = validateTopicName(name); err == nil {
			err = kerr.UnknownTopicOrPartition
		}
		mt := kmsg.NewMetadataResponseTopic()
		n := name
		mt.Topic = &n
		mt.IsInternal = isInternalTopic(name)
		mt.ErrorCode = ErrorCode(err)
		mt.Partitions = []kmsg.MetadataResponseTopicPartition{}
		resp.Topics = append(resp.Topics, mt)
	}
	return resp
}

// autoCreateTopic writes a topic for a Metadata request, as Kafka's AutoTopicCreationManager
// does in ZooKeeper mode: created (or already being created) answers LEADER_NOT_AVAILABLE, so
// the client asks again once the controller has elected leaders.
func (h *Handler) autoCreateTopic(snap *metadata.Snapshot, name string) error {
	if err := validateTopicName(name); err != nil {
		return err
	}
	partitions, rf := h.o.Config.NumPartitions, h.o.Config.DefaultReplicationFactor
	var configs map[string]string
	switch name {
	case consumerOffsetsTopic:
		partitions, rf = h.o.Config.OffsetsTopicNumPartitions, h.o.Config.OffsetsTopicReplicationFactor
		if len(snap.BrokerIDs()) < int(rf) {
			// Kafka refuses to create the offsets topic with fewer brokers than its RF.
			return errorf(kerr.CoordinatorNotAvailable, "offsets.topic.replication.factor %d > %d live brokers", rf, len(snap.BrokerIDs()))
		}
		configs = offsetsTopicConfigs(h.o.Config.OffsetsTopicSegmentBytes)
	}
	_, err := h.createTopic(snap, name, partitions, rf, nil, configs, false)
	if err == nil || kafkaError(err) == kerr.TopicAlreadyExists {
		return kerr.LeaderNotAvailable
	}
	h.log.WithError(err).WithField("topic", name).Info("auto-creating topic failed")
	return err
}

// offsetsTopicConfigs are the overrides Kafka writes for __consumer_offsets
// (GroupCoordinator.offsetsTopicConfigs).
func offsetsTopicConfigs(segmentBytes int32) map[string]string {
	if segmentBytes <= 0 {
		segmentBytes = 104857600
	}
	return map[string]string{
		"cleanup.policy":   "compact",
		"segment.bytes":    strconv.Itoa(int(segmentBytes)),
		"compression.type": "producer",
	}
}

// topicMetadata describes one known topic for the request's listener, as Kafka's
// MetadataCache.getTopicMetadata does.
func (h *Handler) topicMetadata(r *network.Request, req *kmsg.MetadataRequest, snap *metadata.Snapshot, t *metadata.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = isInternalTopic(t.Name)
	if req.IncludeTopicAuthorizedOperations && r.Version >= 8 {
		mt.AuthorizedOperations = topicAuthorizedOps
	}
	mt.Partitions = make([]kmsg.MetadataResponseTopicPartition, 0, len(t.Partitions))
	for _, p := range t.Partitions {
		mt.Partitions = append(mt.Partitions, partitionMetadata(r, snap, p))
	}
	return mt
}

func partitionMetadata(r *network.Request, snap *metadata.Snapshot, p *metadata.Partition) kmsg.MetadataResponseTopicPartition {
	mp := kmsg.NewMetadataResponseTopicPartition()
	mp.Partition = p.Partition
	mp.LeaderEpoch = p.LeaderEpoch
	mp.Replicas, mp.ISR, mp.OfflineReplicas = p.Replicas, p.ISR, p.OfflineReplicas
	// v0 lists only replicas reachable on this listener and flags the rest
	// (REPLICA_NOT_AVAILABLE); later versions list every replica unfiltered.
	reachable := func(id int32) bool {
		b, ok := snap.Broker(id)
		if !ok {
			return false
		}
		_, ok = b.Endpoint(r.Listener)
		return ok
	}
	if r.Version == 0 {
		mp.Replicas, mp.ISR = filterInt32s(p.Replicas, reachable), filterInt32s(p.ISR, reachable)
	}
	leader, alive := snap.Broker(p.Leader)
	_, listening := leader.Endpoint(r.Listener)
	switch {
	case p.Leader < 0 || !alive:
		mp.Leader = -1
		mp.ErrorCode = kerr.LeaderNotAvailable.Code
	case !listening:
		mp.Leader = -1
		mp.ErrorCode = kerr.LeaderNotAvailable.Code
		if r.Version >= 6 {
			mp.ErrorCode = kerr.ListenerNotFound.Code
		}
	default:
		mp.Leader = p.Leader
		if r.Version == 0 && (len(mp.Replicas) < len(p.Replicas) || len(mp.ISR) < len(p.ISR)) {
			mp.ErrorCode = kerr.ReplicaNotAvailable.Code
		}
	}
	return mp
}

func filterInt32s(s []int32, keep func(int32) bool) []int32 {
	out := make([]int32, 0, len(s))
	for _, v := range s {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}
