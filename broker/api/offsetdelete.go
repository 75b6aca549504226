package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/network"
)

// offsetDelete removes committed offsets of a group (KIP-496): all of an empty group's, or of a
// consumer group only those of topics it is not subscribed to. Unknown partitions answer
// UNKNOWN_TOPIC_OR_PARTITION and are listed even when the group-level error is set, as in Kafka.
func (h *Handler) offsetDelete(ctx context.Context, r *network.Request, req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := kmsg.NewPtrOffsetDeleteResponse()
	resp.SetVersion(r.Version)
	snap := h.o.Cache.Snapshot()
	var tps []klog.TopicPartition
	var slots []*kmsg.OffsetDeleteResponseTopicPartition
	resp.Topics = make([]kmsg.OffsetDeleteResponseTopic, len(req.Topics))
	for ti, t := range req.Topics {
		rt := &resp.Topics[ti]
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.OffsetDeleteResponseTopicPartition, len(t.Partitions))
		for pi, p := range t.Partitions {
			rp := &rt.Partitions[pi]
			rp.Partition = p.Partition
			if !knownPartition(snap, t.Topic, p.Partition) {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			tps = append(tps, klog.TopicPartition{Topic: t.Topic, Partition: p.Partition})
			slots = append(slots, rp)
		}
	}
	errs, err := h.o.Groups.DeleteOffsets(ctx, req.Group, tps)
	resp.ErrorCode = ErrorCode(err)
	if err != nil {
		// A group-level error lists only the partitions refused on their own.
		topics := resp.Topics[:0]
		for _, rt := range resp.Topics {
			kept := rt.Partitions[:0]
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 {
					kept = append(kept, rp)
				}
			}
			if rt.Partitions = kept; len(kept) > 0 {
				topics = append(topics, rt)
			}
		}
		resp.Topics = topics
		return resp
	}
	for i, e := range errs {
		slots[i].ErrorCode = ErrorCode(e)
	}
	return resp
}
