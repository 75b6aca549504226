package controller

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkmeta"
)

// Log-dir failures (KIP-112), Kafka's controller: a broker whose log directory failed writes
// /log_dir_event_notification/log_dir_event_<n>; the controller answers with a LeaderAndIsr for
// every replica that broker hosts, and the broker answers KAFKA_STORAGE_ERROR for those in the
// failed directory. Every LeaderAndIsr answer is read that way (at failover and broker startup
// too): such replicas are offline — leadership moves to another live in-sync replica, they leave
// the ISR, no election picks them, UpdateMetadata lists them as offline — until their broker
// restarts or dies. The notifications are deleted once processed.

// replicaOnline reports whether broker r's replica of name-p can serve: its broker is live and
// the replica is not in a failed log directory.
func (c *Controller) replicaOnline(r int32, name string, p int32) bool {
	return c.isLive(r) && !c.st.offlineReplicas[r][tpKey{name, p}]
}

// onLogDirEvent: children of /log_dir_event_notification changed (or the term began, with
// process false: Kafka deletes what is there unread, since failover's LeaderAndIsr to every
// broker finds offline replicas anyway).
func (c *Controller) onLogDirEvent(process bool) {
	if c.st == nil {
		return
	}
	names, ev, err := c.o.ZK.WatchLogDirEvents()
	if err != nil {
		c.log.WithError(err).Warn("reading /log_dir_event_notification; retrying")
		c.later(c.retryDelay(), func() { c.onLogDirEvent(process) })
		return
	}
	c.watch(c.st.ctx, ev, func() { c.onLogDirEvent(true) })
	if len(names) == 0 {
		return
	}
	if process {
		var brokers []int32
		for _, n := range names {
			id, err := c.o.ZK.GetLogDirEvent(n)
			if err != nil {
				c.log.WithError(err).Warn("unreadable log dir event; deleting it")
				continue
			}
			if !contains(brokers, id) {
				brokers = append(brokers, id)
			}
		}
		sort.Slice(brokers, func(i, j int) bool { return brokers[i] < brokers[j] })
		c.log.WithField("brokers", brokers).Warn("log directory failure reported; asking the brokers which replicas are offline")
		all := c.allPartitions()
		for _, id := range brokers {
			if c.isLive(id) {
				c.sendLeaderAndIsr(id, c.partitionsOn(id, all), false)
			}
		}
	}
	if err := c.o.ZK.DeleteLogDirEvents(names, c.st.fence()); err != nil && !c.fenced(err) {
		c.log.WithError(err).Warn("deleting log dir event notifications")
	}
}

// storageErrors lists the partitions a LeaderAndIsr answer refused with KAFKA_STORAGE_ERROR.
func storageErrors(req *kmsg.LeaderAndISRRequest, resp *kmsg.LeaderAndISRResponse) []tpKey {
	var out []tpKey
	for _, p := range resp.Partitions { // v0-v4
		if p.ErrorCode == kerr.KafkaStorageError.Code {
			out = append(out, tpKey{p.Topic, p.Partition})
		}
	}
	names := make(map[[16]byte]string, len(req.TopicStates))
	for _, t := range req.TopicStates {
		names[t.TopicID] = t.Topic
	}
	for _, t := range resp.Topics { // v5+: by topic id
		for _, p := range t.Partitions {
			if name, ok := names[t.TopicID]; ok && p.ErrorCode == kerr.KafkaStorageError.Code {
				out = append(out, tpKey{name, p.Partition})
			}
		}
	}
	return out
}

// onReplicasOffline is Kafka's onReplicasBecomeOffline for broker's replicas that answered
// KAFKA_STORAGE_ERROR: partitions it leads elect the first online in-sync replica (or go
// offline, leader -1, with no one), partitions it follows drop it from the ISR, both with the
// leader epoch bumped and written fenced; the live replicas and every broker are told.
func (c *Controller) onReplicasOffline(broker int32, parts []tpKey) {
	set := c.st.offlineReplicas[broker]
	if set == nil {
		set = map[tpKey]bool{}
		c.st.offlineReplicas[broker] = set
	}
	var fresh []tpKey
	for _, k := range parts {
		if t := c.st.topics[k.topic]; t != nil && t.parts[k.partition] != nil && !set[k] {
			set[k] = true
			fresh = append(fresh, k)
		}
	}
	if len(fresh) == 0 {
		return
	}
	c.log.WithFields(map[string]any{"broker": broker, "replicas": len(fresh)}).
		Warn("replicas on a failed log directory are offline: moving their leaderships and shrinking ISRs")
	next := func(k tpKey) *zkmeta.PartitionState {
		s := c.st.topics[k.topic].parts[k.partition]
		var n *zkmeta.PartitionState
		if s.Leader == broker {
			n = c.offlineElection(k.topic, k.partition, s)
		} else {
			n = shrunkState(s, []int32{broker})
		}
		if n != nil {
			n.ControllerEpoch = c.st.epoch
		}
		return n
	}
	var updates []zkmeta.StateUpdate
	for _, k := range sortedKeys(fresh) {
		if n := next(k); n != nil {
			updates = append(updates, zkmeta.StateUpdate{Topic: k.topic, Partition: k.partition, State: *n})
		}
	}
	changed := c.writeStates(updates, func(name string, p int32) bool {
		n := next(tpKey{name, p})
		if n == nil {
			return false
		}
		v, err := c.o.ZK.UpdatePartitionState(name, p, *n, c.st.fence())
		if err != nil {
			if !c.fenced(err) {
				c.log.WithError(err).WithField("topic", name).Warn("taking an offline replica out")
			}
			return false
		}
		n.ZkVersion = v
		c.st.topics[name].parts[p] = n
		return true
	})
	if c.st == nil {
		return
	}
	c.publish(changed, false)
	done := map[tpKey]bool{}
	for _, k := range changed {
		done[k] = true
	}
	var rest []tpKey // unchanged, but everyone must learn the replica is offline
	for _, k := range fresh {
		if !done[k] {
			rest = append(rest, k)
		}
	}
	if len(rest) > 0 {
		c.sendUpdateMetadata(c.liveIDs(), rest)
	}
}
