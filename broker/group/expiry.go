package group

import (
	"time"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// expiryLoop runs offset expiry every offsets.retention.check.interval.ms until Shutdown.
func (c *Coordinator) expiryLoop() {
	defer c.wg.Done()
	interval := time.Duration(c.o.Config.RetentionCheckIntervalMs) * time.Millisecond
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			c.expireOffsets()
		}
	}
}

// expireOffsets removes offsets older than offsets.retention.minutes from every group, writes
// their tombstones, and drops groups left empty and offset-less (Kafka's cleanupGroupMetadata).
func (c *Coordinator) expireOffsets() int {
	c.mu.RLock()
	groups := make([]*Group, 0, len(c.groups))
	for _, g := range c.groups {
		groups = append(groups, g)
	}
	c.mu.RUnlock()
	now := c.nowMs()
	total := 0
	for _, g := range groups {
		total += c.cleanupGroup(c.ctx, g, func(g *Group) []klog.TopicPartition {
			return g.removeExpiredOffsets(now, c.o.Config.RetentionMs)
		})
	}
	if total > 0 {
		c.log.WithField("offsets", total).Info("removed expired offsets")
	}
	return total
}

// removeExpiredOffsets is Kafka's GroupMetadata.removeExpiredOffsets: in an empty group every
// offset expires retention after the group became empty; in a consumer group with members, the
// offsets of topics it no longer subscribes to expire retention after their commit; a group that
// only stores offsets expires each retention after its commit. An offset committed with an
// explicit retention (OffsetCommit v2–v4) expires at its own expire timestamp. Offsets with a
// commit in flight never expire.
func (g *Group) removeExpiredOffsets(nowMs, retentionMs int64) []klog.TopicPartition {
	var base func(committed) int64
	var skip map[string]bool
	switch {
	case g.protocolType != nil && g.is(Empty):
		base = func(co committed) int64 {
			if g.stateTimestamp >= 0 {
				return g.stateTimestamp
			}
			return co.CommitTimestamp
		}
	case g.protocolType != nil && *g.protocolType == consumerProtocolType && g.subscribedKnown:
		base = func(co committed) int64 { return co.CommitTimestamp }
		skip = g.subscribed
	case g.protocolType == nil:
		base = func(co committed) int64 { return co.CommitTimestamp }
	default:
		return nil
	}
	var expired []klog.TopicPartition
	for _, tp := range g.sortedOffsetPartitions() {
		co := g.offsets[tp]
		if skip[tp.Topic] || g.pendingCommits[tp] > 0 {
			continue
		}
		if co.ExpireTimestamp >= 0 {
			if nowMs < co.ExpireTimestamp {
				continue
			}
		} else if nowMs-base(co) < retentionMs {
			continue
		}
		expired = append(expired, tp)
	}
	for _, tp := range expired {
		delete(g.offsets, tp)
	}
	return expired
}
