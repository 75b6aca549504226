package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/replica"
)

// groupsOnLeaderAndISR tells the group coordinator about the __consumer_offsets partitions a
// LeaderAndIsr just made this broker lead (it loads their groups) or follow (it drops them), as
// Kafka's onLeadershipChange does. Called under stateMu, right after the replica manager applied
// the request, so the coordinator sees elections in the controller's order; the calls only
// queue work.
func (h *Handler) groupsOnLeaderAndISR(states []replica.PartitionState, errs map[klog.TopicPartition]error) {
	if h.o.Groups == nil {
		return
	}
	for _, s := range states {
		if s.Topic != consumerOffsetsTopic || errs[klog.TopicPartition{Topic: s.Topic, Partition: s.Partition}] != nil {
			continue
		}
		if s.Leader == h.o.BrokerID {
			h.o.Groups.OnElection(s.Partition, s.LeaderEpoch)
		} else {
			h.o.Groups.OnResignation(s.Partition, s.LeaderEpoch)
		}
	}
}

// groupsOnStopReplica drops the groups of __consumer_offsets partitions this broker stopped
// serving. Kafka does this only for deleted partitions and relies on produce errors otherwise;
// a stopped replica cannot coordinate anything, so every stopped partition resigns here. The
// leader epoch comes with v3+ (-1: unknown, which always resigns).
func (h *Handler) groupsOnStopReplica(version int16, req *kmsg.StopReplicaRequest, errs map[klog.TopicPartition]error) {
	if h.o.Groups == nil {
		return
	}
	resign := func(p, epoch int32) {
		if errs[klog.TopicPartition{Topic: consumerOffsetsTopic, Partition: p}] == nil {
			h.o.Groups.OnResignation(p, epoch)
		}
	}
	for _, t := range req.Topics {
		if t.Topic != consumerOffsetsTopic {
			continue
		}
		switch {
		case version == 0:
			resign(t.Partition, -1)
		case version <= 2:
			for _, p := range t.Partitions {
				resign(p, -1)
			}
		default:
			for _, ps := range t.PartitionStates {
				resign(ps.Partition, ps.LeaderEpoch)
			}
		}
	}
}
