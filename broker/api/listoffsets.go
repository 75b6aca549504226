package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/network"
)

// listOffsets answers v1+ (one offset per partition): timestamp -1 = latest (the high
// watermark; without transactions also the last stable offset, so the isolation level changes
// nothing), -2 = earliest, -3 = the record with the largest timestamp (v7+), otherwise the first
// offset whose timestamp is >= the given one (offset and timestamp -1 without error when none).
// A partition named twice answers INVALID_REQUEST for each occurrence, as in Kafka.
func (h *Handler) listOffsets(_ context.Context, r *network.Request, req *kmsg.ListOffsetsRequest) *kmsg.ListOffsetsResponse {
	resp := kmsg.NewPtrListOffsetsResponse()
	resp.SetVersion(r.Version)
	snap := h.o.Cache.Snapshot()
	count := map[klog.TopicPartition]int{}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			count[klog.TopicPartition{Topic: t.Topic, Partition: p.Partition}]++
		}
	}
	resp.Topics = make([]kmsg.ListOffsetsResponseTopic, 0, len(req.Topics))
	for _, t := range req.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.ListOffsetsResponseTopicPartition, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			rp := kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition = p.Partition
			tp := klog.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			if count[tp] > 1 {
				rp.ErrorCode = kerr.InvalidRequest.Code
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			leaderEpoch := int32(-1)
			if r.Version >= 4 {
				leaderEpoch = p.CurrentLeaderEpoch
			}
			offset, ts, epoch, err := h.o.Replicas.ListOffset(tp, p.Timestamp, leaderEpoch, req.ReplicaID >= 0)
			if err != nil {
				rp.ErrorCode = ErrorCode(partitionError(snap, tp, err))
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			rp.Offset, rp.Timestamp = offset, ts
			if r.Version >= 4 {
				rp.LeaderEpoch = epoch
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
