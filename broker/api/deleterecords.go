package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/network"
)

// deleteRecords moves each partition's log start offset up to the requested offset (-1 = the
// high watermark) on its leader and answers the new low watermark.
func (h *Handler) deleteRecords(_ context.Context, r *network.Request, req *kmsg.DeleteRecordsRequest) *kmsg.DeleteRecordsResponse {
	resp := kmsg.NewPtrDeleteRecordsResponse()
	resp.SetVersion(r.Version)
	snap := h.o.Cache.Snapshot()
	resp.Topics = make([]kmsg.DeleteRecordsResponseTopic, 0, len(req.Topics))
	for _, t := range req.Topics {
		rt := kmsg.NewDeleteRecordsResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.DeleteRecordsResponseTopicPartition, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			rp := kmsg.NewDeleteRecordsResponseTopicPartition()
			rp.Partition = p.Partition
			rp.LowWatermark = -1
			tp := klog.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			if low, err := h.o.Replicas.DeleteRecords(tp, p.Offset); err != nil {
				rp.ErrorCode = ErrorCode(partitionError(snap, tp, err))
			} else {
				rp.LowWatermark = low
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
