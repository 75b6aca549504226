package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/network"
	"github.com/gregor-broker/gregor/controller"
)

// electLeaders passes ElectLeaders (key 43, v0–v2; v0 is always a preferred election) to the
// controller module; a broker that is not the active controller answers NOT_CONTROLLER, as
// Kafka's does, and admin clients send it to the controller. Topics null means every partition.
func (h *Handler) electLeaders(ctx context.Context, r *network.Request, req *kmsg.ElectLeadersRequest) *kmsg.ElectLeadersResponse {
	resp := kmsg.NewPtrElectLeadersResponse()
	resp.SetVersion(r.Version)
	kind := controller.ElectPreferred
	if r.Version >= 1 {
		kind = req.ElectionType
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
	code := kerr.NotController.Code
	var results []controller.ElectionResult
	switch {
	case kind != controller.ElectPreferred && kind != controller.ElectUnclean:
		code = kerr.InvalidRequest.Code
	case h.o.Controller.IsActive():
		results, code = h.o.Controller.ElectLeaders(ctx, kind, parts)
	}
	if code != 0 {
		if r.Version >= 1 {
			resp.ErrorCode = code
		}
		// Every asked partition carries the error too (v0 has no top-level error).
		for _, p := range parts {
			results = append(results, controller.ElectionResult{TopicPartition: p, Code: code})
		}
	}
	byTopic := map[string]int{}
	for _, res := range results {
		i, ok := byTopic[res.Topic]
		if !ok {
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = res.Topic
			resp.Topics = append(resp.Topics, rt)
			i = len(resp.Topics) - 1
			byTopic[res.Topic] = i
		}
		rp := kmsg.NewElectLeadersResponseTopicPartition()
		rp.Partition, rp.ErrorCode = res.Partition, res.Code
		if res.Code != 0 {
			rp.ErrorMessage = errorMessage(kerr.ErrorForCode(res.Code))
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return resp
}
