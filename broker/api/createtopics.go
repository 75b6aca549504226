package api

import (
	"context"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/network"
)

// createTopics runs on the controller broker, as Kafka's: validate each topic, write it to
// ZooKeeper, then wait — on the metadata cache's change channel, bounded by the request
// timeout — until the controller has elected a leader for every partition (Kafka's
// DelayedCreatePartitions). Topics still leaderless at the deadline answer REQUEST_TIMED_OUT
// (they exist; the client may see them a moment later).
func (h *Handler) createTopics(ctx context.Context, r *network.Request, req *kmsg.CreateTopicsRequest) *kmsg.CreateTopicsResponse {
	resp := kmsg.NewPtrCreateTopicsResponse()
	resp.SetVersion(r.Version)
	resp.Topics = make([]kmsg.CreateTopicsResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		resp.Topics[i] = rt
	}
	setErr := func(i int, err error) {
		rt := &resp.Topics[i]
		rt.ErrorCode = ErrorCode(err)
		rt.ErrorMessage = errorMessage(err)
		rt.TopicID, rt.NumPartitions, rt.ReplicationFactor, rt.Configs = [16]byte{}, -1, -1, nil
	}
	if !h.o.Controller.IsActive() {
		for i := range resp.Topics {
			setErr(i, kerr.NotController)
		}
		return resp
	}
	count := map[string]int{}
	for _, t := range req.Topics {
		count[t.Topic]++
	}
	capped := h.partitionCaps(len(req.Topics), func(i int) (perTopic, added int64) {
		return h.createTopicPartitions(&req.Topics[i]), h.createTopicPartitions(&req.Topics[i])
	})
	snap := h.snapshot(ctx)
	type created struct {
		i          int
		name       string
		partitions int32
	}
	var pending []created
	for i, t := range req.Topics {
		if count[t.Topic] > 1 {
			setErr(i, errorf(kerr.InvalidRequest, "Create topics request from client `%s` contains multiple entries for the following topics: %s", r.ClientID, t.Topic))
			continue
		}
		if capped[i] != nil {
			setErr(i, capped[i])
			continue
		}
		nt, configs, err := h.createOneTopic(snap, t, req.ValidateOnly)
		if err != nil {
			setErr(i, err)
			continue
		}
		rt := &resp.Topics[i]
		rt.TopicID = nt.ID
		rt.NumPartitions = int32(len(nt.Assignment))
		rt.ReplicationFactor = nt.RF
		rt.Configs = h.createTopicConfigs(configs)
		pending = append(pending, created{i, t.Topic, int32(len(nt.Assignment))})
	}
	if req.ValidateOnly || len(pending) == 0 {
		return resp
	}
	ready := func(s *metadata.Snapshot) bool {
		for _, c := range pending {
			if !s.AllPartitionsHaveLeaders(c.name, c.partitions) {
				return false
			}
		}
		return true
	}
	final := h.waitMetadata(ctx, req.TimeoutMillis, ready)
	for _, c := range pending {
		if !final.AllPartitionsHaveLeaders(c.name, c.partitions) {
			// The topic exists in ZooKeeper; only the wait for its leaders ran out, as in
			// Kafka. The id and counts stay in the response.
			resp.Topics[c.i].ErrorCode = kerr.RequestTimedOut.Code
			resp.Topics[c.i].ErrorMessage = errorMessage(errorf(kerr.RequestTimedOut, "Operation timed out before all partitions of '%s' had leaders.", c.name))
		}
	}
	return resp
}

// createOneTopic checks the request fields of one topic and hands it to createTopic.
func (h *Handler) createOneTopic(snap *metadata.Snapshot, t kmsg.CreateTopicsRequestTopic, validateOnly bool) (newTopic, map[string]string, error) {
	configs := map[string]string{}
	var nulls []string
	for _, c := range t.Configs {
		if c.Value == nil {
			nulls = append(nulls, c.Name)
			continue
		}
		configs[c.Name] = *c.Value
	}
	if len(nulls) > 0 {
		return newTopic{}, nil, errorf(kerr.InvalidRequest, "Null value not supported for topic configs: %s", strings.Join(nulls, ","))
	}
	if (t.NumPartitions != -1 || t.ReplicationFactor != -1) && len(t.ReplicaAssignment) > 0 {
		return newTopic{}, nil, errorf(kerr.InvalidRequest, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.")
	}
	partitions, rf := t.NumPartitions, t.ReplicationFactor
	if partitions == -1 {
		partitions = h.o.Config.NumPartitions
	}
	if rf == -1 {
		rf = h.o.Config.DefaultReplicationFactor
	}
	var assignment map[int32][]int32
	if len(t.ReplicaAssignment) > 0 {
		assignment = make(map[int32][]int32, len(t.ReplicaAssignment))
		for _, ra := range t.ReplicaAssignment {
			if _, dup := assignment[ra.Partition]; dup {
				return newTopic{}, nil, errorf(kerr.InvalidReplicaAssignment, "partition %d is assigned twice", ra.Partition)
			}
			assignment[ra.Partition] = append([]int32(nil), ra.Replicas...)
		}
	}
	nt, err := h.createTopic(snap, t.Topic, partitions, rf, assignment, configs, validateOnly)
	return nt, configs, err
}

// createTopicConfigs lists a new topic's effective configs for CreateTopics v5+, without
// synonyms or documentation, as Kafka does.
func (h *Handler) createTopicConfigs(overrides map[string]string) []kmsg.CreateTopicsResponseTopicConfig {
	entries := h.o.Config.DescribeTopic(overrides)
	out := make([]kmsg.CreateTopicsResponseTopicConfig, 0, len(entries))
	for _, e := range entries {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name = e.Name
		if !e.Null {
			v := e.Value
			c.Value = &v
		}
		c.ReadOnly, c.Source, c.IsSensitive = e.ReadOnly, int8(e.Source), e.Sensitive
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// waitMetadata waits until cond holds on the metadata cache, at most timeoutMs (Kafka's
// request timeout, capped at gregor.request.timeout.max.ms; <= 0 = do not wait) and while ctx
// lives. It returns the last snapshot seen.
func (h *Handler) waitMetadata(ctx context.Context, timeoutMs int32, cond func(*metadata.Snapshot) bool) *metadata.Snapshot {
	timeout := h.requestTimeout(timeoutMs)
	if timeout <= 0 {
		return h.o.Cache.Snapshot()
	}
	network.Parked(ctx) // waiting for the controller: leave the request queue
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	snap, _ := h.o.Cache.WaitFor(wctx, cond)
	return snap
}
