package controller

import (
	"github.com/gregor-broker/gregor/zkmeta"
)

func (c *Controller) isLive(id int32) bool {
	_, ok := c.st.live[id]
	return id >= 0 && ok
}

// electable reports whether id may become a leader: live and not in controlled shutdown.
func (c *Controller) electable(id int32) bool { return c.isLive(id) && !c.st.shuttingDown[id] }

// onBrokerChange: children of /brokers/ids changed. New and bounced brokers (same id, new
// registration epoch) get the full state; dead ones lose leadership and ISR membership.
func (c *Controller) onBrokerChange() {
	if c.st == nil {
		return
	}
	ids, ev, err := c.o.ZK.WatchBrokerIDs()
	if err != nil {
		c.log.WithError(err).Warn("re-reading /brokers/ids")
		c.later(c.retryDelay(), c.onBrokerChange)
		return
	}
	c.watch(c.st.ctx, ev, c.onBrokerChange)
	now := map[int32]zkmeta.BrokerInfo{}
	for _, id := range ids {
		if b, err := c.o.ZK.GetBroker(id); err == nil {
			now[id] = b
		}
	}
	var dead, started []int32
	for id, old := range c.st.live {
		b, ok := now[id]
		if !ok || b.Epoch != old.Epoch {
			dead = append(dead, id)
		}
	}
	for id, b := range now {
		if old, ok := c.st.live[id]; !ok || old.Epoch != b.Epoch {
			started = append(started, id)
		}
	}
	for _, id := range append(append([]int32(nil), dead...), started...) {
		delete(c.st.shuttingDown, id)    // a broker that left (or came back) is no longer shutting down
		delete(c.st.offlineReplicas, id) // nor are its failed log dirs: a restart recovered them
	}
	for _, id := range dead {
		if ch := c.st.channels[id]; ch != nil {
			ch.Stop()
			delete(c.st.channels, id)
		}
		delete(c.st.live, id)
	}
	for _, id := range started {
		c.st.live[id] = now[id]
		c.startChannel(now[id])
	}
	if len(dead) > 0 {
		c.log.WithField("brokers", dead).Info("brokers failed")
		c.onBrokerFailure(dead)
	}
	if c.st == nil {
		return
	}
	if len(started) > 0 {
		c.log.WithField("brokers", started).Info("brokers started")
		c.onBrokerStartup(started)
	}
}

// onBrokerFailure: partitions led by a dead broker elect a new leader (the first live ISR
// member in replica order, leader epoch + 1, or offline); a dead follower leaves the ISR (which
// is never emptied), also with the leader epoch bumped, as Kafka's controller does. Every new
// state is written in fenced multis (zkmeta.UpdatePartitionStates), so a broker leading
// thousands of partitions costs a handful of ZooKeeper round trips; a batch that meets a state
// changed under us falls back to one partition at a time. Live replicas and every broker are told.
func (c *Controller) onBrokerFailure(dead []int32) {
	var updates []zkmeta.StateUpdate
	for name, t := range c.st.topics {
		for p, s := range t.parts {
			if s == nil {
				continue
			}
			var next *zkmeta.PartitionState
			if contains(dead, s.Leader) || s.Leader < 0 {
				next = c.offlineElection(name, p, s)
			} else {
				next = shrunkState(s, dead)
			}
			if next != nil {
				next.ControllerEpoch = c.st.epoch
				updates = append(updates, zkmeta.StateUpdate{Topic: name, Partition: p, State: *next})
			}
		}
	}
	changed := c.writeStates(updates, func(name string, p int32) bool {
		cur := c.st.topics[name].parts[p]
		if contains(dead, cur.Leader) || cur.Leader < 0 {
			return c.electOffline(name, p)
		}
		return c.shrinkISR(name, p, dead)
	})
	if c.st == nil {
		return
	}
	c.publish(changed, false)
	if len(changed) == 0 {
		c.sendUpdateMetadata(c.liveIDs(), nil) // at least the broker list changed
	}
}

// writeStates writes updates in fenced batches and records what was written. A batch refused
// because some state changed meanwhile is redone partition by partition with retry, which
// re-reads what it must. It returns the partitions whose state changed.
func (c *Controller) writeStates(updates []zkmeta.StateUpdate, retry func(name string, p int32) bool) []tpKey {
	if len(updates) == 0 || c.st == nil {
		return nil
	}
	var changed []tpKey
	versions, err := c.o.ZK.UpdatePartitionStates(updates, c.st.fence())
	if err != nil && c.fenced(err) {
		return nil
	}
	var refused []zkmeta.StateUpdate
	for i, v := range versions {
		u := updates[i]
		if v == zkmeta.NotWritten {
			refused = append(refused, u)
			continue
		}
		next := u.State
		next.ZkVersion = v
		c.st.topics[u.Topic].parts[u.Partition] = &next
		changed = append(changed, tpKey{u.Topic, u.Partition})
	}
	if err == nil {
		return changed
	}
	c.log.WithError(err).WithField("partitions", len(refused)).Warn("batched partition-state write refused; writing those one at a time")
	for _, u := range refused {
		if retry(u.Topic, u.Partition) {
			changed = append(changed, tpKey{u.Topic, u.Partition})
		}
		if c.st == nil {
			return nil
		}
	}
	return changed
}

// shrunkState is s without the dead brokers in its ISR, leader epoch + 1; nil if none of them
// is in it, or if removing them would empty it.
func shrunkState(s *zkmeta.PartitionState, dead []int32) *zkmeta.PartitionState {
	var isr []int32
	for _, r := range s.ISR {
		if !contains(dead, r) {
			isr = append(isr, r)
		}
	}
	if len(isr) == len(s.ISR) || len(isr) == 0 {
		return nil
	}
	next := *s
	next.ISR, next.LeaderEpoch = isr, s.LeaderEpoch+1
	return &next
}

func (c *Controller) shrinkISR(name string, p int32, dead []int32) bool {
	t := c.st.topics[name]
	next := shrunkState(t.parts[p], dead)
	if next == nil {
		return false
	}
	next.ControllerEpoch = c.st.epoch
	v, err := c.o.ZK.UpdatePartitionState(name, p, *next, c.st.fence())
	if err != nil {
		if !c.fenced(err) {
			c.log.WithError(err).WithField("topic", name).Warn("shrinking ISR")
		}
		return false
	}
	next.ZkVersion = v
	t.parts[p] = next
	return true
}

// onBrokerStartup: the new brokers get all metadata and their replicas' state; partitions that
// were offline or never initialised may now get a leader; deletions waiting on them resume.
func (c *Controller) onBrokerStartup(started []int32) {
	changed := c.bringOnline(c.topicNames()...)
	if c.st == nil {
		return
	}
	all := c.allPartitions()
	c.sendUpdateMetadata(started, all)
	for _, id := range started {
		c.sendLeaderAndIsr(id, c.partitionsOn(id, all), false)
	}
	c.publish(changed, false)
	c.sendUpdateMetadata(c.liveIDs(), nil)
	c.onTopicDeletion()
	c.checkReassignments()
}
