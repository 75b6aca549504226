package controller

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkmeta"
)

// LeaderDuringDelete is the leader id UpdateMetadata carries for a topic being deleted, so
// brokers drop it from their metadata (Kafka's LeaderAndIsr.LeaderDuringDelete).
const LeaderDuringDelete = -2

// onTopicDeletion: children of /admin/delete_topics changed (or a retry). Kafka's
// TopicDeletionManager: markers of unknown topics are removed; a topic whose replicas are all on
// live brokers is dropped from every broker's metadata, its replicas are stopped and deleted, and
// when every replica confirmed, its znodes go.
func (c *Controller) onTopicDeletion() {
	if c.st == nil {
		return
	}
	names, ev, err := c.o.ZK.WatchTopicDeletions()
	if err != nil {
		c.log.WithError(err).Warn("reading /admin/delete_topics")
		return
	}
	c.watch(c.st.ctx, ev, c.onTopicDeletion)
	for _, name := range names {
		t := c.st.topics[name]
		if t == nil || !c.o.DeleteTopicEnable {
			if err := c.o.ZK.RemoveDeletionMarker(name, c.st.fence()); err != nil && !c.fenced(err) {
				c.log.WithError(err).WithField("topic", name).Warn("removing deletion marker")
			}
			continue
		}
		if _, started := c.st.deleting[name]; started {
			continue
		}
		eligible := true
		pending := map[partitionReplica]bool{}
		for p, replicas := range t.a.Partitions {
			for _, r := range replicas {
				if !c.isLive(r) {
					eligible = false
				}
				pending[partitionReplica{p, r}] = true
			}
		}
		if !eligible {
			c.log.WithField("topic", name).Info("topic deletion waits for its replicas' brokers")
			continue
		}
		c.startDeletion(name, t, pending)
		if c.st == nil {
			return
		}
	}
}

func (c *Controller) startDeletion(name string, t *topicState, pending map[partitionReplica]bool) {
	c.log.WithField("topic", name).Info("deleting topic")
	c.st.deleting[name] = pending
	var parts []tpKey
	for p := range t.a.Partitions {
		parts = append(parts, tpKey{name, p})
		if s := t.parts[p]; s != nil {
			s.Leader = LeaderDuringDelete
		}
	}
	c.sendUpdateMetadata(c.liveIDs(), parts)
	byBroker := map[int32][]int32{}
	for pr := range pending {
		byBroker[pr.broker] = append(byBroker[pr.broker], pr.partition)
	}
	for broker, ps := range byBroker {
		req := kmsg.NewPtrStopReplicaRequest()
		req.Version = 3
		req.ControllerID, req.ControllerEpoch = c.o.BrokerID, c.st.epoch
		req.BrokerEpoch = c.st.live[broker].Epoch
		rt := kmsg.NewStopReplicaRequestTopic()
		rt.Topic = name
		for _, p := range ps {
			ps := kmsg.NewStopReplicaRequestTopicPartitionState()
			ps.Partition, ps.LeaderEpoch, ps.Delete = p, LeaderDuringDelete, true
			rt.PartitionStates = append(rt.PartitionStates, ps)
		}
		req.Topics = append(req.Topics, rt)
		broker := broker
		c.send(broker, req, func(resp kmsg.Response, err error) {
			c.enqueue(func() { c.onStopReplicaResponse(name, broker, resp, err) })
		})
	}
}

func (c *Controller) onStopReplicaResponse(name string, broker int32, resp kmsg.Response, err error) {
	if c.st == nil {
		return
	}
	pending := c.st.deleting[name]
	if pending == nil {
		return
	}
	r, ok := resp.(*kmsg.StopReplicaResponse)
	if err != nil || !ok || r.ErrorCode != 0 {
		c.log.WithField("topic", name).WithField("broker", broker).Warn("replica deletion failed; will retry when the broker returns")
		delete(c.st.deleting, name)
		return
	}
	for _, p := range r.Partitions {
		if p.Topic == name && p.ErrorCode == 0 {
			delete(pending, partitionReplica{p.Partition, broker})
		}
	}
	if len(pending) > 0 {
		return
	}
	err = c.o.ZK.DeleteTopic(name, c.st.fence())
	if err != nil && !errors.Is(err, zkmeta.ErrNoNode) {
		if !c.fenced(err) {
			c.log.WithError(err).WithField("topic", name).Error("deleting topic znodes")
		}
		return
	}
	delete(c.st.deleting, name)
	delete(c.st.topics, name)
	c.log.WithField("topic", name).Info("topic deleted")
}
