package controller

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/zkmeta"
)

// Election types of ElectLeaders (KIP-460).
const (
	ElectPreferred int8 = 0
	ElectUnclean   int8 = 1
)

// TopicPartition names a partition in the controller's public API.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// ElectionResult is one partition's outcome: 0, or ELECTION_NOT_NEEDED,
// PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION.
type ElectionResult struct {
	TopicPartition
	Code int16
}

// ElectLeaders runs preferred or unclean elections (ElectLeaders, key 43) on the event
// goroutine; parts nil means every partition, and then partitions that needed no election are
// left out of the answer.
func (c *Controller) ElectLeaders(ctx context.Context, kind int8, parts []TopicPartition) ([]ElectionResult, int16) {
	type answer struct {
		res  []ElectionResult
		code int16
	}
	done := make(chan answer, 1)
	c.enqueue(func() {
		if c.st == nil {
			done <- answer{nil, kerr.NotController.Code}
			return
		}
		done <- answer{c.runElections(kind, parts), 0}
	})
	select {
	case a := <-done:
		return a.res, a.code
	case <-ctx.Done():
	case <-c.stopping:
	}
	return nil, kerr.NotController.Code
}

// runElections computes every election first, writes them in fenced batches, tells the brokers.
func (c *Controller) runElections(kind int8, parts []TopicPartition) []ElectionResult {
	all := parts == nil
	if all {
		for name, t := range c.st.topics {
			for p := range t.a.Partitions {
				parts = append(parts, TopicPartition{name, p})
			}
		}
	}
	var out []ElectionResult
	var updates []zkmeta.StateUpdate
	pending := map[tpKey]int{} // index in out of each partition being written
	for _, tp := range parts {
		t := c.st.topics[tp.Topic]
		var s *zkmeta.PartitionState
		if t != nil && c.st.deleting[tp.Topic] == nil {
			s = t.parts[tp.Partition]
		}
		if s == nil {
			out = append(out, ElectionResult{tp, kerr.UnknownTopicOrPartition.Code})
			continue
		}
		next, code := c.electionFor(kind, tp.Topic, tp.Partition, s)
		if next == nil {
			if !(all && code == kerr.ElectionNotNeeded.Code) {
				out = append(out, ElectionResult{tp, code})
			}
			continue
		}
		next.ControllerEpoch = c.st.epoch
		pending[tpKey{tp.Topic, tp.Partition}] = len(out)
		out = append(out, ElectionResult{tp, 0})
		updates = append(updates, zkmeta.StateUpdate{Topic: tp.Topic, Partition: tp.Partition, State: *next})
	}
	if len(updates) == 0 {
		return out
	}
	changed := c.writeStates(updates, func(name string, p int32) bool {
		t := c.st.topics[name]
		next, _ := c.electionFor(kind, name, p, t.parts[p])
		if next == nil {
			return false
		}
		next.ControllerEpoch = c.st.epoch
		v, err := c.o.ZK.UpdatePartitionState(name, p, *next, c.st.fence())
		if err != nil {
			c.fenced(err)
			return false
		}
		next.ZkVersion = v
		t.parts[p] = next
		return true
	})
	written := map[tpKey]bool{}
	for _, k := range changed {
		written[k] = true
	}
	for k, i := range pending {
		if !written[k] {
			out[i].Code = kerr.UnknownServerError.Code
		}
	}
	if c.st != nil {
		c.publish(changed, false)
		c.log.WithFields(map[string]any{"kind": kind, "elected": len(changed)}).Info("leader election")
	}
	return out
}

// electionFor is one partition's new state for an election of kind (nil and an error code when
// none is to be written), Kafka's PreferredReplicaPartitionLeaderElectionStrategy and, for
// unclean, its offline strategy with unclean election allowed.
func (c *Controller) electionFor(kind int8, name string, p int32, s *zkmeta.PartitionState) (*zkmeta.PartitionState, int16) {
	replicas := c.st.topics[name].a.Partitions[p]
	if kind == ElectUnclean {
		if c.electable(s.Leader) {
			return nil, kerr.ElectionNotNeeded.Code
		}
		next := *s
		next.Leader = -1
		for _, r := range replicas { // an in-sync replica first, as a clean election would
			if contains(s.ISR, r) && c.electable(r) && c.replicaOnline(r, name, p) {
				next.Leader = r
				break
			}
		}
		if next.Leader < 0 {
			for _, r := range replicas {
				if c.electable(r) && c.replicaOnline(r, name, p) {
					next.Leader, next.ISR = r, []int32{r}
					break
				}
			}
		} else {
			var isr []int32
			for _, r := range s.ISR {
				if c.isLive(r) {
					isr = append(isr, r)
				}
			}
			next.ISR = isr
		}
		if next.Leader < 0 {
			return nil, kerr.EligibleLeadersNotAvailable.Code
		}
		next.LeaderEpoch = s.LeaderEpoch + 1
		return &next, 0
	}
	if len(replicas) == 0 {
		return nil, kerr.UnknownTopicOrPartition.Code
	}
	preferred := replicas[0]
	switch {
	case s.Leader == preferred:
		return nil, kerr.ElectionNotNeeded.Code
	case !c.electable(preferred) || !contains(s.ISR, preferred) || !c.replicaOnline(preferred, name, p):
		return nil, kerr.PreferredLeaderNotAvailable.Code
	}
	next := *s
	next.Leader, next.LeaderEpoch = preferred, s.LeaderEpoch+1
	return &next, 0
}

// onPreferredElection: /admin/preferred_replica_election was created (or is there at failover):
// run a preferred election for the listed partitions and delete the znode, as Kafka's
// controller does for the legacy kafka-preferred-replica-election tool.
func (c *Controller) onPreferredElection() {
	if c.st == nil {
		return
	}
	parts, exists, ev, err := c.o.ZK.WatchPreferredElection()
	if ev != nil {
		c.watch(c.st.ctx, ev, c.onPreferredElection)
	}
	if !exists {
		return
	}
	if err != nil {
		c.log.WithError(err).Warn("unreadable /admin/preferred_replica_election; removing it")
	} else {
		tps := make([]TopicPartition, 0, len(parts))
		for _, p := range parts {
			tps = append(tps, TopicPartition{p.Topic, p.Partition})
		}
		c.runElections(ElectPreferred, tps)
		if c.st == nil {
			return
		}
	}
	if err := c.o.ZK.DeletePreferredElection(c.st.fence()); err != nil && !c.fenced(err) {
		c.log.WithError(err).Warn("deleting /admin/preferred_replica_election")
	}
}

// scheduleRebalance arms the next automatic leader rebalance of this term
// (auto.leader.rebalance.enable): the first check 5 s after failover, as Kafka's, then every
// leader.imbalance.check.interval.seconds.
func (c *Controller) scheduleRebalance(d time.Duration) {
	if !c.o.AutoLeaderRebalance || c.st == nil {
		return
	}
	term := c.st
	c.later(d, func() {
		if c.st != term { // resigned, or a new term: that term has its own schedule
			return
		}
		c.rebalanceLeaders()
		c.scheduleRebalance(c.o.LeaderImbalanceCheckInterval)
	})
}

// rebalanceLeaders is Kafka's checkAndTriggerAutoLeaderRebalance: for each broker, the share of
// the partitions whose preferred replica it is that it does not lead; above
// leader.imbalance.per.broker.percentage, a preferred election for those partitions (those whose
// preferred replica is live and in sync). Topics being deleted are left alone.
func (c *Controller) rebalanceLeaders() {
	preferredOf := map[int32][]TopicPartition{}
	notLed := map[int32][]TopicPartition{}
	for name, t := range c.st.topics {
		if c.st.deleting[name] != nil {
			continue
		}
		for p, replicas := range t.a.Partitions {
			s := t.parts[p]
			if s == nil || len(replicas) == 0 {
				continue
			}
			pref := replicas[0]
			tp := TopicPartition{name, p}
			preferredOf[pref] = append(preferredOf[pref], tp)
			if s.Leader != pref {
				notLed[pref] = append(notLed[pref], tp)
			}
		}
	}
	var elect []TopicPartition
	for b, all := range preferredOf {
		if !c.electable(b) || len(notLed[b]) == 0 {
			continue
		}
		if ratio := float64(len(notLed[b])) / float64(len(all)); ratio*100 > float64(c.o.LeaderImbalancePercentage) {
			elect = append(elect, notLed[b]...)
		}
	}
	if len(elect) > 0 {
		c.log.WithField("partitions", len(elect)).Info("leader imbalance above the threshold: preferred election")
		c.runElections(ElectPreferred, elect)
	}
}
