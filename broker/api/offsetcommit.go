package api

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/network"
)

// offsetCommit stores a group's offsets through the coordinator and answers once they are
// written with offsets.commit.required.acks. Partitions unknown to the metadata cache answer
// UNKNOWN_TOPIC_OR_PARTITION. v1 carries a commit timestamp per partition (-1: now), v2–v4 a
// retention time (stored as the v1 value's expire timestamp, as Kafka does), v6+ the leader
// epoch, v7+ the instance id. Kafka 2.8 writes v0 commits to ZooKeeper for pre-0.9 consumers;
// here they are stored in __consumer_offsets like every other version.
func (h *Handler) offsetCommit(ctx context.Context, r *network.Request, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := kmsg.NewPtrOffsetCommitResponse()
	resp.SetVersion(r.Version)
	snap := h.o.Cache.Snapshot()
	now := time.Now().UnixMilli()
	expire := int64(-1)
	if r.Version >= 2 && r.Version <= 4 && req.RetentionTimeMillis != -1 {
		expire = now + req.RetentionTimeMillis
	}
	cr := group.CommitRequest{GroupID: req.Group, MemberID: req.MemberID, InstanceID: req.InstanceID, GenerationID: req.Generation}
	var slots []*kmsg.OffsetCommitResponseTopicPartition
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	for ti, t := range req.Topics {
		rt := &resp.Topics[ti]
		*rt = kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(t.Partitions))
		for pi, p := range t.Partitions {
			rp := &rt.Partitions[pi]
			*rp = kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			if !knownPartition(snap, t.Topic, p.Partition) {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			o := group.Offset{Offset: p.Offset, LeaderEpoch: -1, CommitTimestamp: now, ExpireTimestamp: expire}
			if r.Version >= 6 {
				o.LeaderEpoch = p.LeaderEpoch
			}
			if p.Metadata != nil {
				o.Metadata = *p.Metadata
			}
			if r.Version == 1 && p.Timestamp != -1 {
				o.CommitTimestamp = p.Timestamp
			}
			cr.Offsets = append(cr.Offsets, group.CommitOffset{TP: klog.TopicPartition{Topic: t.Topic, Partition: p.Partition}, Offset: o})
			slots = append(slots, rp)
		}
	}
	if len(cr.Offsets) == 0 {
		return resp
	}
	for i, err := range h.o.Groups.CommitOffsets(ctx, cr) {
		slots[i].ErrorCode = ErrorCode(err)
	}
	return resp
}
