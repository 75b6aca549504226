package controller

import (
	"errors"

	"github.com/gregor-broker/gregor/zkmeta"
)

// loadTopic reads a topic's assignment with a data watch (partition additions), gives it a topic
// id if whoever created it did not (a zkCli-written JSON, Kafka 2.x tools), and reads the state of
// each partition.
func (c *Controller) loadTopic(name string) *topicState {
	a, ev, err := c.o.ZK.WatchTopic(name)
	if errors.Is(err, zkmeta.ErrNoNode) {
		delete(c.st.topics, name)
		return nil
	}
	if err != nil {
		c.log.WithError(err).WithField("topic", name).Error("reading topic assignment")
		return nil
	}
	c.watch(c.st.ctx, ev, func() { c.onTopicModified(name) })
	if a.TopicID == ([16]byte{}) {
		a.TopicID = zkmeta.NewUUID()
		if err := c.o.ZK.SetTopicAssignment(a, c.st.fence()); err != nil {
			if c.fenced(err) {
				return nil
			}
			c.log.WithError(err).WithField("topic", name).Warn("assigning a topic id")
		} else {
			a.ZkVersion++
		}
	}
	t := c.st.topics[name]
	if t == nil {
		t = &topicState{parts: map[int32]*zkmeta.PartitionState{}}
		c.st.topics[name] = t
	}
	t.a = a
	for p := range a.Partitions {
		if _, known := t.parts[p]; known && t.parts[p] != nil {
			continue
		}
		s, err := c.o.ZK.GetPartitionState(name, p)
		if err == nil {
			t.parts[p] = &s
		} else {
			t.parts[p] = nil
		}
	}
	return t
}

// bringOnline initialises partitions without state and elects leaders for partitions whose
// leader is gone. It returns the partitions whose state it changed.
func (c *Controller) bringOnline(name string, t *topicState) []tpKey {
	var changed []tpKey
	for p, replicas := range t.a.Partitions {
		s := t.parts[p]
		switch {
		case s == nil:
			if c.initPartition(name, p, replicas) {
				changed = append(changed, tpKey{name, p})
			}
		case !c.isLive(s.Leader):
			if c.electOffline(name, p) {
				changed = append(changed, tpKey{name, p})
			}
		}
		if c.st == nil {
			return nil
		}
	}
	return changed
}

// initPartition is the New → Online transition: leader = first live replica, ISR = the live
// replicas in assignment order, leader epoch 0, written with a fenced create.
func (c *Controller) initPartition(name string, p int32, replicas []int32) bool {
	var live []int32
	for _, r := range replicas {
		if _, ok := c.st.live[r]; ok {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return false // stays New until a replica's broker appears
	}
	s := zkmeta.PartitionState{ControllerEpoch: c.st.epoch, Leader: live[0], LeaderEpoch: 0, ISR: live}
	err := c.o.ZK.CreatePartitionState(name, p, s, c.st.fence())
	if err != nil {
		if c.fenced(err) {
			return false
		}
		// Already there (another controller got half way): take what is written.
		existing, gerr := c.o.ZK.GetPartitionState(name, p)
		if gerr != nil {
			c.log.WithError(err).WithField("topic", name).Error("creating partition state")
			return false
		}
		c.st.topics[name].parts[p] = &existing
		return true
	}
	s.ZkVersion = 0
	c.st.topics[name].parts[p] = &s
	return true
}

// electOffline picks a new leader for a partition whose leader is not live: the first replica in
// assignment order that is live and in the ISR; with none, an unclean election if enabled, else
// leader -1 with the ISR left as it was (Kafka never empties the ISR). Leader epoch + 1.
func (c *Controller) electOffline(name string, p int32) bool {
	t := c.st.topics[name]
	for attempt := 0; attempt < 2; attempt++ {
		cur := t.parts[p]
		if cur == nil {
			return false
		}
		next := *cur
		next.Leader = -1
		var isr []int32
		for _, r := range cur.ISR {
			if _, ok := c.st.live[r]; ok {
				isr = append(isr, r)
			}
		}
		for _, r := range t.a.Partitions[p] {
			if contains(isr, r) {
				next.Leader = r
				break
			}
		}
		switch {
		case next.Leader >= 0:
			next.ISR = isr
		case c.uncleanAllowed(name):
			for _, r := range t.a.Partitions[p] {
				if _, ok := c.st.live[r]; ok {
					next.Leader, next.ISR = r, []int32{r}
					break
				}
			}
		}
		if next.Leader < 0 && cur.Leader < 0 {
			return false // still no eligible leader; nothing to write
		}
		next.LeaderEpoch = cur.LeaderEpoch + 1
		next.ControllerEpoch = c.st.epoch
		v, err := c.o.ZK.UpdatePartitionState(name, p, next, c.st.fence())
		if err == nil {
			next.ZkVersion = v
			t.parts[p] = &next
			return true
		}
		if c.fenced(err) {
			return false
		}
		if errors.Is(err, zkmeta.ErrBadVersion) {
			if s, gerr := c.o.ZK.GetPartitionState(name, p); gerr == nil {
				t.parts[p] = &s
				continue
			}
		}
		c.log.WithError(err).WithField("topic", name).Error("writing partition state")
		return false
	}
	return false
}

func (c *Controller) uncleanAllowed(topic string) bool {
	cfg, err := c.o.ZK.GetTopicConfig(topic)
	if err == nil {
		if v, ok := cfg["unclean.leader.election.enable"]; ok {
			return v == "true"
		}
	}
	return c.o.UncleanLeaderElectionEnable
}

// onTopicChange: children of /brokers/topics changed.
func (c *Controller) onTopicChange() {
	if c.st == nil {
		return
	}
	names, ev, err := c.o.ZK.WatchTopics()
	if err != nil {
		c.log.WithError(err).Warn("re-reading /brokers/topics")
		c.later(c.retryDelay(), c.onTopicChange)
		return
	}
	c.watch(c.st.ctx, ev, c.onTopicChange)
	present := map[string]bool{}
	var changed []tpKey
	for _, name := range names {
		present[name] = true
		if _, known := c.st.topics[name]; known {
			continue
		}
		t := c.loadTopic(name)
		if c.st == nil {
			return
		}
		if t != nil {
			c.bringOnline(name, t)
			for p := range t.a.Partitions {
				changed = append(changed, tpKey{name, p})
			}
		}
	}
	for name := range c.st.topics {
		if !present[name] {
			delete(c.st.topics, name)
		}
	}
	c.publish(changed, true)
}

// onTopicModified: a topic's assignment znode changed (partitions added) or was deleted.
func (c *Controller) onTopicModified(name string) {
	if c.st == nil {
		return
	}
	before := map[int32]bool{}
	if t := c.st.topics[name]; t != nil {
		for p := range t.a.Partitions {
			before[p] = true
		}
	}
	t := c.loadTopic(name)
	if t == nil || c.st == nil {
		return
	}
	var added []tpKey
	for p, replicas := range t.a.Partitions {
		if before[p] {
			continue
		}
		if t.parts[p] == nil {
			c.initPartition(name, p, replicas)
		}
		added = append(added, tpKey{name, p})
	}
	c.publish(added, true)
}

// publish sends LeaderAndIsr for parts to their live replicas and UpdateMetadata to everyone.
func (c *Controller) publish(parts []tpKey, isNew bool) {
	if c.st == nil || len(parts) == 0 {
		return
	}
	for id := range c.st.live {
		if on := c.partitionsOn(id, parts); len(on) > 0 {
			c.sendLeaderAndIsr(id, on, isNew)
		}
	}
	c.sendUpdateMetadata(c.liveIDs(), parts)
}
