package api

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/network"
	"github.com/gregor-broker/gregor/zkmeta"
)

// createPartitions runs on the controller broker, as Kafka's ZkAdminManager.createPartitions:
// the new partitions' replicas are assigned (zk-layout.md §3.8 "Adding partitions") or taken
// from the request, the whole topic znode is rewritten keeping its topic id, and the handler
// waits for the controller to elect leaders for the new partitions.
func (h *Handler) createPartitions(ctx context.Context, r *network.Request, req *kmsg.CreatePartitionsRequest) *kmsg.CreatePartitionsResponse {
	resp := kmsg.NewPtrCreatePartitionsResponse()
	resp.SetVersion(r.Version)
	resp.Topics = make([]kmsg.CreatePartitionsResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		resp.Topics[i] = rt
	}
	setErr := func(i int, err error) {
		resp.Topics[i].ErrorCode = ErrorCode(err)
		resp.Topics[i].ErrorMessage = errorMessage(err)
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
	snap := h.snapshot(ctx)
	capped := h.partitionCaps(len(req.Topics), func(i int) (perTopic, added int64) {
		return int64(req.Topics[i].Count), addedPartitions(snap, &req.Topics[i])
	})
	type added struct {
		i     int
		name  string
		count int32
	}
	var pending []added
	for i, t := range req.Topics {
		if count[t.Topic] > 1 {
			setErr(i, errorf(kerr.InvalidRequest, "Duplicate topic in request."))
			continue
		}
		if capped[i] != nil {
			setErr(i, capped[i])
			continue
		}
		if err := h.addPartitions(snap, t, req.ValidateOnly); err != nil {
			setErr(i, err)
			continue
		}
		pending = append(pending, added{i, t.Topic, t.Count})
	}
	if req.ValidateOnly || len(pending) == 0 {
		return resp
	}
	final := h.waitMetadata(ctx, req.TimeoutMillis, func(s *metadata.Snapshot) bool {
		for _, a := range pending {
			if !s.AllPartitionsHaveLeaders(a.name, a.count) {
				return false
			}
		}
		return true
	})
	for _, a := range pending {
		if !final.AllPartitionsHaveLeaders(a.name, a.count) {
			setErr(a.i, errorf(kerr.RequestTimedOut, "Operation timed out before the new partitions of '%s' had leaders.", a.name))
		}
	}
	return resp
}

// addPartitions validates and writes one topic's partition increase. A concurrent rewrite of
// the topic znode (BADVERSION) is retried on the fresh assignment.
func (h *Handler) addPartitions(snap *metadata.Snapshot, t kmsg.CreatePartitionsRequestTopic, validateOnly bool) error {
	for attempt := 0; ; attempt++ {
		cur, err := h.o.ZK.GetTopic(t.Topic)
		if errors.Is(err, zkmeta.ErrNoNode) {
			return errorf(kerr.UnknownTopicOrPartition, "The topic '%s' does not exist.", t.Topic)
		}
		if err != nil {
			return fmt.Errorf("read topic %s: %w", t.Topic, err)
		}
		if len(cur.Adding) > 0 || len(cur.Removing) > 0 {
			return errorf(kerr.ReassignmentInProgress, "A partition reassignment is in progress for the topic '%s'.", t.Topic)
		}
		next, err := h.planPartitions(snap, cur, t)
		if err != nil || validateOnly {
			return err
		}
		oldN := len(cur.Partitions)
		cur.Partitions = next
		err = h.o.ZK.SetTopicAssignment(cur, nil)
		if errors.Is(err, zkmeta.ErrBadVersion) && attempt < 3 {
			continue
		}
		if err != nil {
			return fmt.Errorf("write topic %s: %w", t.Topic, err)
		}
		h.log.WithField("topic", t.Topic).Infof("increased partitions from %d to %d", oldN, t.Count)
		return nil
	}
}

// planPartitions returns the topic's full assignment after the increase.
func (h *Handler) planPartitions(snap *metadata.Snapshot, cur zkmeta.TopicAssignment, t kmsg.CreatePartitionsRequestTopic) (map[int32][]int32, error) {
	old := int32(len(cur.Partitions))
	brokers := h.assignableBrokers(snap)
	p0, ok := cur.Partitions[0]
	if !ok || len(p0) == 0 {
		return nil, fmt.Errorf("topic %s has no partition 0 in its assignment", t.Topic)
	}
	switch inc := t.Count - old; {
	case inc < 0:
		return nil, errorf(kerr.InvalidPartitions, "Topic currently has %d partitions, which is higher than the requested %d.", old, t.Count)
	case inc == 0:
		return nil, errorf(kerr.InvalidPartitions, "Topic already has %d partitions.", old)
	}
	inc := t.Count - old
	var added map[int32][]int32
	if t.Assignment != nil {
		if int32(len(t.Assignment)) != inc {
			return nil, errorf(kerr.InvalidReplicaAssignment, "Increasing the number of partitions by %d but %d assignments provided.", inc, len(t.Assignment))
		}
		added = make(map[int32][]int32, inc)
		for i, a := range t.Assignment {
			p := old + int32(i)
			reps := a.Replicas
			if len(reps) == 0 {
				return nil, errorf(kerr.InvalidReplicaAssignment, "Cannot have replication factor of 0 for partition id %d.", p)
			}
			seen := map[int32]bool{}
			for _, b := range reps {
				if seen[b] {
					return nil, errorf(kerr.InvalidReplicaAssignment, "Duplicate brokers not allowed in replica assignment: %v for partition id %d.", reps, p)
				}
				seen[b] = true
				if !brokers.alive(b) {
					return nil, errorf(kerr.InvalidReplicaAssignment, "Unknown broker(s) in replica assignment: %d.", b)
				}
			}
			if len(reps) != len(p0) {
				return nil, errorf(kerr.InvalidReplicaAssignment, "Inconsistent replication factor between partitions, partition 0 has %d while partition %d has %d.", len(p0), p, len(reps))
			}
			added[p] = append([]int32(nil), reps...)
		}
	} else {
		// Kafka fixes start index and shift to the position of the first broker whose id is
		// >= partition 0's first replica, so new partitions continue the existing pattern.
		ids := brokers.ids
		start := sort.Search(len(ids), func(i int) bool { return ids[i] >= p0[0] })
		if start == len(ids) {
			start = 0
		}
		var err error
		if added, err = h.assignReplicas(brokers, inc, int16(len(p0)), old, start); err != nil {
			return nil, err
		}
	}
	next := make(map[int32][]int32, t.Count)
	for p, reps := range cur.Partitions {
		next[p] = reps
	}
	for p, reps := range added {
		next[p] = reps
	}
	return next, nil
}
