package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/network"
)

// stopReplica stops serving (and with delete, removes) the listed partitions through the
// replica manager, after the broker- and controller-epoch fences. v0–v2 carry one delete flag
// for the whole request, v3+ one per partition; the two sets go to the replica manager as two
// calls. The per-partition leader-epoch check of Kafka's v3+ (FENCED_LEADER_EPOCH for a stale
// epoch) is left to the controller's ordering: the replica manager does not expose epochs here.
func (h *Handler) stopReplica(r *network.Request, req *kmsg.StopReplicaRequest) *kmsg.StopReplicaResponse {
	resp := kmsg.NewPtrStopReplicaResponse()
	resp.SetVersion(r.Version)

	var keep, del []klog.TopicPartition
	var order []klog.TopicPartition
	add := func(topic string, p int32, deletePartition bool) {
		tp := klog.TopicPartition{Topic: topic, Partition: p}
		order = append(order, tp)
		if deletePartition {
			del = append(del, tp)
		} else {
			keep = append(keep, tp)
		}
	}
	for _, t := range req.Topics {
		switch {
		case r.Version == 0:
			add(t.Topic, t.Partition, req.DeletePartitions)
		case r.Version <= 2:
			for _, p := range t.Partitions {
				add(t.Topic, p, req.DeletePartitions)
			}
		default:
			for _, ps := range t.PartitionStates {
				add(t.Topic, ps.Partition, ps.Delete)
			}
		}
	}

	h.stateMu.Lock()
	err := h.checkControllerRequest(req.BrokerEpoch, req.ControllerEpoch)
	errs := map[klog.TopicPartition]error{}
	if err == nil {
		for _, set := range []struct {
			parts  []klog.TopicPartition
			delete bool
		}{{keep, false}, {del, true}} {
			if len(set.parts) == 0 {
				continue
			}
			for tp, e := range h.o.Replicas.StopReplicas(set.parts, set.delete) {
				errs[tp] = e
			}
		}
		h.groupsOnStopReplica(r.Version, req, errs)
	}
	h.stateMu.Unlock()
	if err != nil {
		h.reqLog(r).WithError(err).Warnf("rejecting StopReplica from controller %d epoch %d", req.ControllerID, req.ControllerEpoch)
		resp.ErrorCode = ErrorCode(err)
		// Kafka's fenced StopReplica answers the error with every partition listed.
	}
	for _, tp := range order {
		rp := kmsg.NewStopReplicaResponsePartition()
		rp.Topic, rp.Partition = tp.Topic, tp.Partition
		if err != nil {
			rp.ErrorCode = ErrorCode(err)
		} else {
			rp.ErrorCode = ErrorCode(errs[tp])
		}
		resp.Partitions = append(resp.Partitions, rp)
	}
	return resp
}
