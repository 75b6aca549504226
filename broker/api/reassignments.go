package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/network"
	"github.com/gregor-broker/gregor/controller"
)

// alterPartitionReassignments passes AlterPartitionReassignments (key 45, v0: KIP-455) to the
// controller module: each partition's target replicas, or null to cancel its move. A broker that
// is not the active controller answers NOT_CONTROLLER.
func (h *Handler) alterPartitionReassignments(ctx context.Context, r *network.Request, req *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse {
	resp := kmsg.NewPtrAlterPartitionAssignmentsResponse()
	resp.SetVersion(r.Version)
	reqs := map[controller.TopicPartition][]int32{}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			reqs[controller.TopicPartition{Topic: t.Topic, Partition: p.Partition}] = p.Replicas
		}
	}
	if !h.o.Controller.IsActive() {
		resp.ErrorCode = kerr.NotController.Code
		return resp
	}
	results, code := h.o.Controller.AlterReassignments(ctx, reqs)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	byTopic := map[string]int{}
	for _, res := range results {
		i, ok := byTopic[res.Topic]
		if !ok {
			rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
			rt.Topic = res.Topic
			resp.Topics = append(resp.Topics, rt)
			i = len(resp.Topics) - 1
			byTopic[res.Topic] = i
		}
		rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
		rp.Partition, rp.ErrorCode = res.Partition, res.Code
		if res.Message != "" {
			m := res.Message
			rp.ErrorMessage = &m
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return resp
}

// listPartitionReassignments answers ListPartitionReassignments (key 46, v0) from the
// controller: the partitions in motion with their replicas, adding and removing replicas.
func (h *Handler) listPartitionReassignments(ctx context.Context, r *network.Request, req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse {
	resp := kmsg.NewPtrListPartitionReassignmentsResponse()
	resp.SetVersion(r.Version)
	if !h.o.Controller.IsActive() {
		resp.ErrorCode = kerr.NotController.Code
		return resp
	}
	var parts []controller.TopicPartition
	if req.Topics != nil {
		parts = []controller.TopicPartition{}
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				parts = append(parts, controller.TopicPartition{Topic: t.Topic, Partition: p})
			}
		}
	}
	states, code := h.o.Controller.ListReassignments(ctx, parts)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	byTopic := map[string]int{}
	for _, s := range states {
		i, ok := byTopic[s.Topic]
		if !ok {
			rt := kmsg.NewListPartitionReassignmentsResponseTopic()
			rt.Topic = s.Topic
			resp.Topics = append(resp.Topics, rt)
			i = len(resp.Topics) - 1
			byTopic[s.Topic] = i
		}
		rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		rp.Partition, rp.Replicas, rp.AddingReplicas, rp.RemovingReplicas = s.Partition, s.Replicas, s.Adding, s.Removing
		if rp.AddingReplicas == nil {
			rp.AddingReplicas = []int32{}
		}
		if rp.RemovingReplicas == nil {
			rp.RemovingReplicas = []int32{}
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return resp
}
