package api

import (
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/network"
	"github.com/gregor-broker/gregor/broker/replica"
)

// leaderAndISR makes this broker leader or follower of the listed partitions through the
// replica manager, after the broker- and controller-epoch fences. A fenced request answers the
// error at the top level and for every partition, as Kafka's getErrorResponse does.
func (h *Handler) leaderAndISR(r *network.Request, req *kmsg.LeaderAndISRRequest) *kmsg.LeaderAndISRResponse {
	resp := kmsg.NewPtrLeaderAndISRResponse()
	resp.SetVersion(r.Version)

	// Flatten v0–v1 (per-partition topic names) and v2+ (per-topic states).
	type topicInfo struct {
		id       [16]byte
		from, to int // its partitions: states[from:to]
	}
	var states []replica.PartitionState
	var topics []topicInfo
	// Followers fetch from the leader's endpoint as the controller announced it.
	leaders := make(map[int32]string, len(req.LiveLeaders))
	for _, ll := range req.LiveLeaders {
		leaders[ll.BrokerID] = net.JoinHostPort(ll.Host, strconv.Itoa(int(ll.Port)))
	}
	add := func(topic string, id [16]byte, p kmsg.LeaderAndISRRequestTopicPartition) {
		states = append(states, replica.PartitionState{
			Topic: topic, TopicID: id, Partition: p.Partition, ControllerEpoch: p.ControllerEpoch,
			Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, ISR: p.ISR, Replicas: p.Replicas,
			PartitionEpoch: p.ZKVersion, IsNew: p.IsNew, LeaderAddr: leaders[p.Leader],
		})
	}
	if r.Version <= 1 {
		for _, p := range req.PartitionStates {
			add(p.Topic, [16]byte{}, p)
		}
	} else {
		for _, t := range req.TopicStates {
			from := len(states)
			for _, p := range t.PartitionStates {
				add(t.Topic, t.TopicID, p)
			}
			topics = append(topics, topicInfo{t.TopicID, from, len(states)})
		}
	}

	h.stateMu.Lock()
	began := time.Now()
	err := h.checkControllerRequest(req.BrokerEpoch, req.ControllerEpoch)
	var errs map[klog.TopicPartition]error
	if err == nil {
		errs = h.o.Replicas.BecomeLeaderOrFollower(req.ControllerEpoch, states)
		h.groupsOnLeaderAndISR(states, errs)
	}
	h.stateMu.Unlock()
	if took := time.Since(began); took > time.Second {
		h.reqLog(r).WithFields(map[string]any{"partitions": len(states), "took": took.String()}).Info("slow LeaderAndIsr")
	}
	if err != nil {
		h.reqLog(r).WithError(err).Warnf("rejecting LeaderAndIsr from controller %d epoch %d", req.ControllerID, req.ControllerEpoch)
		resp.ErrorCode = ErrorCode(err)
	}

	code := func(tp klog.TopicPartition) int16 {
		if err != nil {
			return ErrorCode(err)
		}
		return ErrorCode(errs[tp])
	}
	if r.Version <= 4 {
		for _, s := range states {
			tp := klog.TopicPartition{Topic: s.Topic, Partition: s.Partition}
			rp := kmsg.NewLeaderAndISRResponseTopicPartition()
			rp.Topic, rp.Partition, rp.ErrorCode = s.Topic, s.Partition, code(tp)
			resp.Partitions = append(resp.Partitions, rp)
		}
		return resp
	}
	// v5+: grouped by topic id.
	for _, t := range topics {
		rt := kmsg.NewLeaderAndISRResponseTopic()
		rt.TopicID = t.id
		for _, s := range states[t.from:t.to] {
			rp := kmsg.NewLeaderAndISRResponseTopicPartition()
			rp.Topic, rp.Partition = s.Topic, s.Partition
			rp.ErrorCode = code(klog.TopicPartition{Topic: s.Topic, Partition: s.Partition})
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
