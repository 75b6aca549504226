package controller

import (
	"errors"

	"github.com/gregor-broker/gregor/zkmeta"
)

// loadTopic reads a topic's assignment with a data watch (partition additions), gives it a topic
// id if whoever created it did not (a zkCli-written JSON, Kafka 2.x tools), and reads the state of
// each partition.
func (c *Controller) loadTopic(name string) *topicState {
	t, missing := c.loadAssignment(name)
	if t == nil {
		return nil
	}
	c.applyStates(c.readStates(missing))
	return t
}

// applyStates records partition states read by readStates.
func (c *Controller) applyStates(states map[tpKey]*zkmeta.PartitionState) {
	for k, s := range states {
		if t := c.st.topics[k.topic]; t != nil {
			t.parts[k.partition] = s
		}
	}
}

// loadAssignment reads a topic's assignment (with a watch) into c.st.topics and returns the
// partitions whose state is still to be read; nil if the topic is gone or unreadable.
func (c *Controller) loadAssignment(name string) (*topicState, []tpKey) {
	a, ev, err := c.o.ZK.WatchTopic(name)
	if errors.Is(err, zkmeta.ErrNoNode) {
		delete(c.st.topics, name)
		return nil, nil
	}
	if err != nil {
		c.log.WithError(err).WithField("topic", name).Error("reading topic assignment")
		return nil, nil
	}
	c.watch(c.st.ctx, ev, func() { c.onTopicModified(name) })
	if a.TopicID == ([16]byte{}) {
		a.TopicID = zkmeta.NewUUID()
		if err := c.o.ZK.SetTopicAssignment(a, c.st.fence()); err != nil {
			if c.fenced(err) {
				return nil, nil
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
	var missing []tpKey
	for p := range a.Partitions {
		if _, known := t.parts[p]; known && t.parts[p] != nil {
			continue
		}
		missing = append(missing, tpKey{name, p})
	}
	return t, missing
}

// readStates reads the state znodes of keys (zkmeta's bulk read: pipelined, over the reader
// sessions too); a partition without one (or whose read failed) maps to nil.
func (c *Controller) readStates(keys []tpKey) map[tpKey]*zkmeta.PartitionState {
	refs := make([]zkmeta.PartitionRef, len(keys))
	for i, k := range keys {
		refs[i] = zkmeta.PartitionRef{Topic: k.topic, Partition: k.partition}
	}
	states := c.o.ZK.GetPartitionStates(refs)
	out := make(map[tpKey]*zkmeta.PartitionState, len(keys))
	for i, k := range keys {
		out[k] = states[i]
	}
	return out
}

// bringOnline initialises partitions without state, elects leaders for partitions whose leader
// is gone and takes dead brokers out of the other partitions' ISRs (Kafka's failover steps 7–8:
// replicas on dead brokers go offline), for the named topics. The elections and shrinks of all
// of them are written together in fenced batches. It returns the partitions whose state it
// changed.
func (c *Controller) bringOnline(names ...string) []tpKey {
	var changed []tpKey
	var updates []zkmeta.StateUpdate
	for _, name := range names {
		t := c.st.topics[name]
		if t == nil {
			continue
		}
		changed = append(changed, c.initPartitions(name, t)...)
		if c.st == nil {
			return nil
		}
		updates = append(updates, c.onlineUpdates(name, t)...)
	}
	return append(changed, c.writeStates(updates, func(name string, p int32) bool {
		cur := c.st.topics[name].parts[p]
		if !c.isLive(cur.Leader) {
			return c.electOffline(name, p)
		}
		dead := c.deadIn(cur.ISR)
		return len(dead) > 0 && c.shrinkISR(name, p, dead)
	})...)
}

// deadIn lists the members of isr whose broker is not live.
func (c *Controller) deadIn(isr []int32) []int32 {
	var dead []int32
	for _, r := range isr {
		if !c.isLive(r) {
			dead = append(dead, r)
		}
	}
	return dead
}

// onlineUpdates is bringOnline's new state for each partition of t whose leader or some ISR
// member is dead.
func (c *Controller) onlineUpdates(name string, t *topicState) []zkmeta.StateUpdate {
	var updates []zkmeta.StateUpdate
	for p := range t.a.Partitions {
		s := t.parts[p]
		if s == nil {
			continue // no live replica yet: it stays New until one's broker appears
		}
		var next *zkmeta.PartitionState
		if !c.isLive(s.Leader) {
			next = c.offlineElection(name, p, s)
		} else if dead := c.deadIn(s.ISR); len(dead) > 0 {
			next = shrunkState(s, dead)
		}
		if next != nil {
			next.ControllerEpoch = c.st.epoch
			updates = append(updates, zkmeta.StateUpdate{Topic: name, Partition: p, State: *next})
		}
	}
	return updates
}

// initPartitions brings every New partition of a topic with a live replica Online, in batched
// fenced creates; a batch that meets a partition already created (a controller before us got
// half way) falls back to one partition at a time, which takes what is there.
func (c *Controller) initPartitions(name string, t *topicState) []tpKey {
	var parts []int32
	var states []zkmeta.PartitionState
	for p, replicas := range t.a.Partitions {
		if t.parts[p] != nil {
			continue
		}
		var live []int32
		for _, r := range replicas {
			if _, ok := c.st.live[r]; ok {
				live = append(live, r)
			}
		}
		if len(live) == 0 {
			continue
		}
		parts = append(parts, p)
		states = append(states, zkmeta.PartitionState{ControllerEpoch: c.st.epoch, Leader: live[0], LeaderEpoch: 0, ISR: live})
	}
	if len(parts) == 0 {
		return nil
	}
	done, err := c.o.ZK.CreatePartitionStates(name, parts, states, c.st.fence())
	var changed []tpKey
	for i := 0; i < done; i++ {
		s := states[i]
		s.ZkVersion = 0
		t.parts[parts[i]] = &s
		changed = append(changed, tpKey{name, parts[i]})
	}
	if err != nil {
		if c.fenced(err) {
			return nil
		}
		if !errors.Is(err, zkmeta.ErrNodeExists) {
			c.log.WithError(err).WithField("topic", name).Warn("batched partition creation failed; creating one at a time")
		}
		for _, p := range parts[done:] {
			if c.initPartition(name, p, t.a.Partitions[p]) {
				changed = append(changed, tpKey{name, p})
			}
			if c.st == nil {
				return nil
			}
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

// offlineElection computes the state of a partition whose leader is not live: leader = the
// first replica in assignment order that is live and in the ISR, ISR = its live members; with
// none, an unclean election if enabled, else leader -1 with the ISR left as it was (Kafka never
// empties the ISR). Leader epoch + 1. nil when there is nothing to write (still no leader).
func (c *Controller) offlineElection(name string, p int32, cur *zkmeta.PartitionState) *zkmeta.PartitionState {
	t := c.st.topics[name]
	next := *cur
	next.Leader = -1
	var isr []int32
	for _, r := range cur.ISR {
		if c.replicaOnline(r, name, p) {
			isr = append(isr, r)
		}
	}
	for _, r := range t.a.Partitions[p] {
		if contains(isr, r) && !c.st.shuttingDown[r] {
			next.Leader = r
			break
		}
	}
	switch {
	case next.Leader >= 0:
		next.ISR = isr
	case c.uncleanAllowed(name):
		for _, r := range t.a.Partitions[p] {
			if c.electable(r) && c.replicaOnline(r, name, p) {
				next.Leader, next.ISR = r, []int32{r}
				break
			}
		}
	}
	if next.Leader < 0 && cur.Leader < 0 {
		return nil
	}
	next.LeaderEpoch = cur.LeaderEpoch + 1
	return &next
}

// electOffline writes offlineElection's state for one partition, re-reading it once if it
// changed under us.
func (c *Controller) electOffline(name string, p int32) bool {
	t := c.st.topics[name]
	for attempt := 0; attempt < 2; attempt++ {
		cur := t.parts[p]
		if cur == nil {
			return false
		}
		next := c.offlineElection(name, p, cur)
		if next == nil {
			return false
		}
		next.ControllerEpoch = c.st.epoch
		v, err := c.o.ZK.UpdatePartitionState(name, p, *next, c.st.fence())
		if err == nil {
			next.ZkVersion = v
			t.parts[p] = next
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
			c.bringOnline(name)
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
