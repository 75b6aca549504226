package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/network"
)

// offsetFetch answers a group's committed offsets (-1 where none), for the listed partitions or,
// with null topics (v2+), every partition the group has an offset for. v0–v1 report a group
// error on every partition, v2–v7 at the top level, v8+ (KIP-709) per group of a batch. v7+ may
// require stable offsets (UNSTABLE_OFFSET_COMMIT while a commit of the partition is in flight).
func (h *Handler) offsetFetch(r *network.Request, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := kmsg.NewPtrOffsetFetchResponse()
	resp.SetVersion(r.Version)
	if r.Version >= 8 {
		for _, rg := range req.Groups {
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group = rg.Group
			var tps []klog.TopicPartition
			if rg.Topics != nil {
				tps = []klog.TopicPartition{}
				for _, t := range rg.Topics {
					for _, p := range t.Partitions {
						tps = append(tps, klog.TopicPartition{Topic: t.Topic, Partition: p})
					}
				}
			}
			offs, err := h.o.Groups.FetchOffsets(rg.Group, req.RequireStable, tps)
			g.ErrorCode = ErrorCode(err)
			for _, t := range groupByTopic(offs) {
				gt := kmsg.NewOffsetFetchResponseGroupTopic()
				gt.Topic = t[0].TP.Topic
				for _, o := range t {
					gp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					gp.Partition, gp.Offset, gp.LeaderEpoch, gp.ErrorCode = o.TP.Partition, o.Offset, o.LeaderEpoch, ErrorCode(o.Err)
					md := o.Metadata
					gp.Metadata = &md
					gt.Partitions = append(gt.Partitions, gp)
				}
				g.Topics = append(g.Topics, gt)
			}
			resp.Groups = append(resp.Groups, g)
		}
		return resp
	}
	var tps []klog.TopicPartition
	if req.Topics != nil || r.Version < 2 {
		tps = []klog.TopicPartition{}
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				tps = append(tps, klog.TopicPartition{Topic: t.Topic, Partition: p})
			}
		}
	}
	offs, err := h.o.Groups.FetchOffsets(req.Group, r.Version >= 7 && req.RequireStable, tps)
	if err != nil {
		if r.Version >= 2 {
			resp.ErrorCode = ErrorCode(err)
			return resp
		}
		offs = offs[:0]
		for _, tp := range tps {
			offs = append(offs, group.FetchedOffset{TP: tp, Offset: -1, LeaderEpoch: -1, Err: err})
		}
	}
	for _, t := range groupByTopic(offs) {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t[0].TP.Topic
		for _, o := range t {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = o.TP.Partition, o.Offset, o.LeaderEpoch, ErrorCode(o.Err)
			md := o.Metadata
			rp.Metadata = &md
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// groupByTopic groups offsets by topic, topics in order of first appearance.
func groupByTopic(offs []group.FetchedOffset) [][]group.FetchedOffset {
	idx := map[string]int{}
	var out [][]group.FetchedOffset
	for _, o := range offs {
		i, ok := idx[o.TP.Topic]
		if !ok {
			i = len(out)
			idx[o.TP.Topic] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], o)
	}
	return out
}
