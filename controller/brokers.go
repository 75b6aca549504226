package controller

import (
	"github.com/gregor-broker/gregor/zkmeta"
)

func (c *Controller) isLive(id int32) bool {
	_, ok := c.st.live[id]
	return id >= 0 && ok
}

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
	for _, id := range dead {
		if ch := c.st.channels[id]; ch != nil {
			ch.stop()
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

// onBrokerFailure: partitions led by a dead broker elect a new leader; a dead follower leaves
// the ISR (which is never emptied). Live replicas and every broker are told.
func (c *Controller) onBrokerFailure(dead []int32) {
	var changed []tpKey
	for name, t := range c.st.topics {
		for p, s := range t.parts {
			if s == nil {
				continue
			}
			if contains(dead, s.Leader) || s.Leader < 0 {
				if c.electOffline(name, p) {
					changed = append(changed, tpKey{name, p})
				}
			} else if c.shrinkISR(name, p, dead) {
				changed = append(changed, tpKey{name, p})
			}
			if c.st == nil {
				return
			}
		}
	}
	c.publish(changed, false)
	if len(changed) == 0 {
		c.sendUpdateMetadata(c.liveIDs(), nil) // at least the broker list changed
	}
}

func (c *Controller) shrinkISR(name string, p int32, dead []int32) bool {
	t := c.st.topics[name]
	cur := t.parts[p]
	var isr []int32
	for _, r := range cur.ISR {
		if !contains(dead, r) {
			isr = append(isr, r)
		}
	}
	if len(isr) == len(cur.ISR) || len(isr) == 0 {
		return false
	}
	next := *cur
	next.ISR, next.LeaderEpoch, next.ControllerEpoch = isr, cur.LeaderEpoch+1, c.st.epoch
	v, err := c.o.ZK.UpdatePartitionState(name, p, next, c.st.fence())
	if err != nil {
		if !c.fenced(err) {
			c.log.WithError(err).WithField("topic", name).Warn("shrinking ISR")
		}
		return false
	}
	next.ZkVersion = v
	t.parts[p] = &next
	return true
}

// onBrokerStartup: the new brokers get all metadata and their replicas' state; partitions that
// were offline or never initialised may now get a leader; deletions waiting on them resume.
func (c *Controller) onBrokerStartup(started []int32) {
	var changed []tpKey
	for name, t := range c.st.topics {
		changed = append(changed, c.bringOnline(name, t)...)
		if c.st == nil {
			return
		}
	}
	all := c.allPartitions()
	c.sendUpdateMetadata(started, all)
	for _, id := range started {
		c.sendLeaderAndIsr(id, c.partitionsOn(id, all), false)
	}
	c.publish(changed, false)
	c.sendUpdateMetadata(c.liveIDs(), nil)
	c.onTopicDeletion()
}
