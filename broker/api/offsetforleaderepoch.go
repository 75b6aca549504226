package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/network"
)

// offsetForLeaderEpoch answers, per partition on its leader, the largest leader epoch <= the
// requested one and the offset where it ends (KIP-101/KIP-320): clients use it after a leader
// change to check that their position is still on the log (franz-go, the Java consumer).
func (h *Handler) offsetForLeaderEpoch(_ context.Context, r *network.Request, req *kmsg.OffsetForLeaderEpochRequest) *kmsg.OffsetForLeaderEpochResponse {
	resp := kmsg.NewPtrOffsetForLeaderEpochResponse()
	resp.SetVersion(r.Version)
	snap := h.o.Cache.Snapshot()
	resp.Topics = make([]kmsg.OffsetForLeaderEpochResponseTopic, 0, len(req.Topics))
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.OffsetForLeaderEpochResponseTopicPartition, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			rp.Partition = p.Partition
			rp.LeaderEpoch, rp.EndOffset = -1, -1
			current := int32(-1)
			if r.Version >= 2 {
				current = p.CurrentLeaderEpoch
			}
			tp := klog.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			if epoch, end, err := h.o.Replicas.OffsetForLeaderEpoch(tp, current, p.LeaderEpoch); err != nil {
				rp.ErrorCode = ErrorCode(partitionError(snap, tp, err))
			} else {
				rp.LeaderEpoch, rp.EndOffset = epoch, end
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
