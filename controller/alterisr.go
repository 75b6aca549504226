package controller

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkmeta"
)

// AlterISR handles a partition leader's AlterIsr (key 56), Kafka 2.8's
// KafkaController.processAlterIsr, on the event goroutine: the broker must be live at the epoch
// it sent; per partition, an older leader epoch is FENCED_LEADER_EPOCH, a request matching the
// current state is answered with it, and otherwise the new ISR is written to the state znode,
// fenced by the controller epoch and conditional on the partition epoch (zkVersion) the leader
// saw — a mismatch is INVALID_UPDATE_VERSION. The leader epoch does not change. Every live
// broker then gets UpdateMetadata for the changed partitions.
func (c *Controller) AlterISR(ctx context.Context, req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	result := make(chan *kmsg.AlterPartitionResponse, 1)
	c.enqueue(func() { result <- c.processAlterISR(req) })
	select {
	case resp := <-result:
		return resp
	case <-ctx.Done():
	case <-c.stopping:
	}
	resp := kmsg.NewPtrAlterPartitionResponse()
	resp.Version = req.Version
	resp.ErrorCode = kerr.NotController.Code // the leader retries, and finds the controller again
	return resp
}

func (c *Controller) processAlterISR(req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	resp := kmsg.NewPtrAlterPartitionResponse()
	resp.Version = req.Version
	if c.st == nil {
		resp.ErrorCode = kerr.NotController.Code
		return resp
	}
	if b, ok := c.st.live[req.BrokerID]; !ok || (req.BrokerEpoch >= 0 && b.Epoch != req.BrokerEpoch) {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return resp
	}
	var changed, resync []tpKey
	for _, t := range req.Topics {
		rt := kmsg.NewAlterPartitionResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewAlterPartitionResponseTopicPartition()
			rp.Partition = p.Partition
			s, code := c.alterOne(t.Topic, p, req.BrokerID)
			if c.st == nil { // fenced by a newer controller while writing
				resp.ErrorCode = kerr.NotController.Code
				resp.Topics = nil
				return resp
			}
			rp.ErrorCode = code
			if code == kerr.InvalidUpdateVersion.Code {
				resync = append(resync, tpKey{t.Topic, p.Partition})
			}
			if code == 0 {
				rp.LeaderID, rp.LeaderEpoch, rp.PartitionEpoch = s.Leader, s.LeaderEpoch, s.ZkVersion
				rp.ISR = append([]int32(nil), s.ISR...)
				changed = append(changed, tpKey{t.Topic, p.Partition})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(changed) > 0 {
		c.sendUpdateMetadata(c.liveIDs(), changed)
		for _, k := range changed { // a move completes when its target replicas are in sync
			if c.st != nil && c.st.reassigning[k] != nil {
				c.maybeCompleteReassignment(k)
			}
		}
	}
	// A leader that proposed against an old partition epoch missed a state write: send it the
	// current state, which it accepts for its leader epoch because the partition epoch is newer.
	c.publish(resync, false)
	return resp
}

// alterOne validates and writes one partition's new ISR; it returns the resulting state.
func (c *Controller) alterOne(topic string, p kmsg.AlterPartitionRequestTopicPartition, leader int32) (*zkmeta.PartitionState, int16) {
	t := c.st.topics[topic]
	if t == nil || c.st.deleting[topic] != nil {
		return nil, kerr.UnknownTopicOrPartition.Code
	}
	cur := t.parts[p.Partition]
	if cur == nil {
		return nil, kerr.UnknownTopicOrPartition.Code
	}
	switch {
	case p.LeaderEpoch < cur.LeaderEpoch:
		return nil, kerr.FencedLeaderEpoch.Code
	case cur.Leader != leader || p.LeaderEpoch > cur.LeaderEpoch:
		return nil, kerr.NotLeaderForPartition.Code
	case sameISR(cur.ISR, p.NewISR):
		return cur, 0 // already so: answer the current state
	case p.PartitionEpoch != cur.ZkVersion:
		return nil, kerr.InvalidUpdateVersion.Code
	}
	for _, r := range p.NewISR {
		if !contains(t.a.Partitions[p.Partition], r) {
			return nil, kerr.InvalidRequest.Code
		}
		// A replica joins only if it can serve (Kafka 3.x's INELIGIBLE_REPLICA, KIP-841): one
		// leaving in a controlled shutdown, dead, or with this partition in a failed log dir is
		// not taken (back) in. The leader's proposal can trail the broker's exit — its last
		// fetches caught up, then it stopped; a new controller has lost the old one's
		// shutting-down set — and a dead broker in an ISR holds every acks=all write until the
		// ISR shrinks again, and may be elected leader on return with a restarted producer state.
		if !contains(cur.ISR, r) && (c.st.shuttingDown[r] || !c.replicaOnline(r, topic, p.Partition)) {
			return nil, kerr.IneligibleReplica.Code
		}
	}
	next := *cur
	next.ISR = append([]int32(nil), p.NewISR...)
	next.ControllerEpoch = c.st.epoch
	v, err := c.o.ZK.UpdatePartitionState(topic, p.Partition, next, c.st.fence())
	if err != nil {
		if c.fenced(err) {
			return nil, kerr.NotController.Code
		}
		if errors.Is(err, zkmeta.ErrBadVersion) {
			// Someone else wrote the znode (a controller before us, a tool): re-read it.
			if s, gerr := c.o.ZK.GetPartitionState(topic, p.Partition); gerr == nil {
				t.parts[p.Partition] = &s
			}
			return nil, kerr.InvalidUpdateVersion.Code
		}
		c.log.WithError(err).WithField("topic", topic).Warn("writing ISR change")
		return nil, kerr.UnknownServerError.Code
	}
	next.ZkVersion = v
	t.parts[p.Partition] = &next
	c.log.WithFields(map[string]any{"topic": topic, "partition": p.Partition, "isr": next.ISR,
		"zk_version": v}).Info("ISR changed by the leader")
	return &next, 0
}

func sameISR(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range b {
		if !contains(a, x) {
			return false
		}
	}
	return true
}
