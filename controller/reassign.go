package controller

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/zkmeta"
)

// Partition reassignment, Kafka's KIP-455 algorithm in ZooKeeper mode. For a partition with
// original replicas ORS moving to target replicas TRS (adding AR = TRS-ORS, removing RR =
// ORS-TRS):
//
//  1. the topic znode gets replicas = TRS ∪ ORS (target first) with adding_replicas = AR and
//     removing_replicas = RR;
//  2. the leader epoch is bumped and every replica (old and new) gets LeaderAndIsr with the whole
//     set, so the new replicas start fetching and the leader accepts their fetches;
//  3. when every target replica is in the ISR (the leader's AlterIsr brings them), the replica
//     set becomes TRS: a leader outside TRS (or dead) hands over to the first live in-sync target
//     replica, otherwise the epoch is bumped again; the removed replicas leave the ISR and are
//     told to stop and delete their copies (StopReplica delete=true); the topic znode gets
//     replicas = TRS and no adding/removing; a legacy /admin/reassign_partitions entry goes.
//
// A cancellation (target null) goes back to ORS the same way. Reassignments survive controller
// failover: the topic znode says which partitions are moving and where.

// ReassignmentState is one partition's reassignment as ListPartitionReassignments reports it.
type ReassignmentState struct {
	TopicPartition
	Replicas, Adding, Removing []int32
}

// reassignment is one partition in motion.
type reassignment struct {
	original, target []int32
	legacy           bool // from /admin/reassign_partitions
}

// ReassignResult is one partition's answer to AlterPartitionReassignments.
type ReassignResult struct {
	TopicPartition
	Code    int16
	Message string
}

// AlterReassignments starts (replicas set) or cancels (replicas nil) reassignments
// (AlterPartitionReassignments, key 45), on the event goroutine.
func (c *Controller) AlterReassignments(ctx context.Context, reqs map[TopicPartition][]int32) ([]ReassignResult, int16) {
	type answer struct {
		res  []ReassignResult
		code int16
	}
	done := make(chan answer, 1)
	c.enqueue(func() {
		if c.st == nil {
			done <- answer{nil, kerr.NotController.Code}
			return
		}
		var out []ReassignResult
		for tp, target := range reqs {
			code, msg := c.startReassignment(tp, target, false)
			out = append(out, ReassignResult{tp, code, msg})
			if c.st == nil {
				done <- answer{nil, kerr.NotController.Code}
				return
			}
		}
		done <- answer{out, 0}
	})
	select {
	case a := <-done:
		return a.res, a.code
	case <-ctx.Done():
	case <-c.stopping:
	}
	return nil, kerr.NotController.Code
}

// ListReassignments answers ListPartitionReassignments (key 46): parts nil means all.
func (c *Controller) ListReassignments(ctx context.Context, parts []TopicPartition) ([]ReassignmentState, int16) {
	type answer struct {
		res  []ReassignmentState
		code int16
	}
	done := make(chan answer, 1)
	c.enqueue(func() {
		if c.st == nil {
			done <- answer{nil, kerr.NotController.Code}
			return
		}
		var out []ReassignmentState
		add := func(k tpKey) {
			t := c.st.topics[k.topic]
			if _, moving := c.st.reassigning[k]; !moving || t == nil {
				return
			}
			out = append(out, ReassignmentState{TopicPartition{k.topic, k.partition},
				append([]int32(nil), t.a.Partitions[k.partition]...), append([]int32(nil), t.a.Adding[k.partition]...),
				append([]int32(nil), t.a.Removing[k.partition]...)})
		}
		if parts == nil {
			for _, k := range sortedKeys(keysOf(c.st.reassigning)) {
				add(k)
			}
		} else {
			for _, tp := range parts {
				add(tpKey{tp.Topic, tp.Partition})
			}
		}
		done <- answer{out, 0}
	})
	select {
	case a := <-done:
		return a.res, a.code
	case <-ctx.Done():
	case <-c.stopping:
	}
	return nil, kerr.NotController.Code
}

func keysOf(m map[tpKey]*reassignment) []tpKey {
	out := make([]tpKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// startReassignment validates and begins (or cancels, target nil) one partition's move.
func (c *Controller) startReassignment(tp TopicPartition, target []int32, legacy bool) (int16, string) {
	k := tpKey{tp.Topic, tp.Partition}
	t := c.st.topics[tp.Topic]
	if t == nil || c.st.deleting[tp.Topic] != nil {
		return kerr.UnknownTopicOrPartition.Code, "topic unknown or being deleted"
	}
	cur, ok := t.a.Partitions[tp.Partition]
	if !ok || t.parts[tp.Partition] == nil {
		return kerr.UnknownTopicOrPartition.Code, "no such partition"
	}
	r := c.st.reassigning[k]
	if target == nil { // cancel
		if r == nil {
			return kerr.NoReassignmentInProgress.Code, "no reassignment in progress"
		}
		target = r.original
	}
	seen := map[int32]bool{}
	for _, b := range target {
		if seen[b] {
			return kerr.InvalidReplicaAssignment.Code, "duplicate broker in the target replicas"
		}
		seen[b] = true
		if !c.isLive(b) {
			return kerr.InvalidReplicaAssignment.Code, "a target replica's broker is not alive"
		}
	}
	if len(target) == 0 {
		return kerr.InvalidReplicaAssignment.Code, "no target replicas"
	}
	original := cur
	if r != nil {
		original = r.original // a new target for a partition already moving keeps its origin
	}
	if r == nil && sameOrder(cur, target) {
		return 0, "" // nothing to move
	}
	next := &reassignment{original: append([]int32(nil), original...), target: append([]int32(nil), target...), legacy: legacy}
	all := union(target, original)
	adding, removing := minus(target, original), minus(original, target)

	a := t.a
	a.Partitions = copyMap(a.Partitions)
	a.Adding, a.Removing = copyMap(a.Adding), copyMap(a.Removing)
	a.Partitions[tp.Partition] = all
	setOrDelete(a.Adding, tp.Partition, adding)
	setOrDelete(a.Removing, tp.Partition, removing)
	if err := c.o.ZK.SetTopicAssignment(a, c.st.fence()); err != nil {
		if c.fenced(err) {
			return kerr.NotController.Code, ""
		}
		return kerr.UnknownServerError.Code, err.Error()
	}
	a.ZkVersion++
	t.a = a
	c.st.reassigning[k] = next
	c.log.WithFields(map[string]any{"topic": tp.Topic, "partition": tp.Partition, "from": original, "to": target}).
		Info("reassignment started")
	if !c.bumpAndPublish(k, nil) {
		return kerr.UnknownServerError.Code, "could not write the partition state"
	}
	c.maybeCompleteReassignment(k)
	return 0, ""
}

// bumpAndPublish writes the partition's state with the leader epoch bumped (and leader changed
// to newLeader when not nil) and sends LeaderAndIsr to every replica in its replica set.
func (c *Controller) bumpAndPublish(k tpKey, change func(*zkmeta.PartitionState)) bool {
	t := c.st.topics[k.topic]
	cur := t.parts[k.partition]
	next := *cur
	next.LeaderEpoch++
	next.ControllerEpoch = c.st.epoch
	if change != nil {
		change(&next)
	}
	v, err := c.o.ZK.UpdatePartitionState(k.topic, k.partition, next, c.st.fence())
	if err != nil {
		if !c.fenced(err) {
			c.log.WithError(err).WithField("topic", k.topic).Warn("reassignment: writing partition state")
		}
		return false
	}
	next.ZkVersion = v
	t.parts[k.partition] = &next
	c.publish([]tpKey{k}, false)
	return true
}

// maybeCompleteReassignment finishes a move once every target replica is in the ISR.
func (c *Controller) maybeCompleteReassignment(k tpKey) {
	r := c.st.reassigning[k]
	t := c.st.topics[k.topic]
	if r == nil || t == nil {
		return
	}
	s := t.parts[k.partition]
	if s == nil {
		return
	}
	for _, b := range r.target {
		if !contains(s.ISR, b) {
			return
		}
	}
	removed := minus(t.a.Partitions[k.partition], r.target)
	// The new replica set first, in memory, so the LeaderAndIsr below carries it.
	a := t.a
	a.Partitions, a.Adding, a.Removing = copyMap(a.Partitions), copyMap(a.Adding), copyMap(a.Removing)
	a.Partitions[k.partition] = append([]int32(nil), r.target...)
	delete(a.Adding, k.partition)
	delete(a.Removing, k.partition)
	leaderStays := contains(r.target, s.Leader) && c.electable(s.Leader)
	newLeader := s.Leader
	if !leaderStays {
		newLeader = -1
		for _, b := range r.target {
			if contains(s.ISR, b) && c.electable(b) {
				newLeader = b
				break
			}
		}
		if newLeader < 0 {
			return // no target replica can lead yet: wait for the next ISR change
		}
	}
	if err := c.o.ZK.SetTopicAssignment(a, c.st.fence()); err != nil {
		if !c.fenced(err) {
			c.log.WithError(err).WithField("topic", k.topic).Warn("reassignment: writing the topic's replicas")
		}
		return
	}
	a.ZkVersion++
	t.a = a
	if !c.bumpAndPublish(k, func(n *zkmeta.PartitionState) {
		n.Leader = newLeader
		var isr []int32
		for _, b := range n.ISR {
			if contains(r.target, b) {
				isr = append(isr, b)
			}
		}
		n.ISR = isr
	}) {
		return
	}
	delete(c.st.reassigning, k)
	// The replicas that left stop and delete their copies.
	for _, b := range removed {
		if c.isLive(b) {
			c.deleteReplica(b, k)
		}
	}
	if r.legacy {
		c.updateLegacyReassignments()
	}
	c.log.WithFields(map[string]any{"topic": k.topic, "partition": k.partition, "replicas": r.target, "leader": newLeader}).
		Info("reassignment completed")
}

// deleteReplica tells broker to stop and delete its replica of k (StopReplica delete=true).
func (c *Controller) deleteReplica(broker int32, k tpKey) {
	req := stopReplicaRequest(c, broker, []tpKey{k}, true)
	c.send(broker, req, nil)
}

// checkReassignments re-checks every partition in motion (after an ISR change, a broker's
// return, a failover).
func (c *Controller) checkReassignments() {
	for _, k := range sortedKeys(keysOf(c.st.reassigning)) {
		c.maybeCompleteReassignment(k)
		if c.st == nil {
			return
		}
	}
}

// resumeReassignments rebuilds the moves in progress from the topic znodes at failover, then
// picks up the legacy znode.
func (c *Controller) resumeReassignments() {
	for name, t := range c.st.topics {
		for p, reps := range t.a.Partitions {
			adding, removing := t.a.Adding[p], t.a.Removing[p]
			if len(adding) == 0 && len(removing) == 0 {
				continue
			}
			c.st.reassigning[tpKey{name, p}] = &reassignment{original: minus(reps, adding), target: minus(reps, removing)}
		}
	}
	c.onLegacyReassignments()
	if c.st != nil {
		c.checkReassignments()
	}
}

// onLegacyReassignments: /admin/reassign_partitions was created or changed: start the moves it
// lists that are not already under way (kafka-reassign-partitions.sh --zookeeper wrote it).
func (c *Controller) onLegacyReassignments() {
	if c.st == nil {
		return
	}
	entries, exists, ev, err := c.o.ZK.WatchReassignments()
	if ev != nil {
		c.watch(c.st.ctx, ev, c.onLegacyReassignments)
	}
	if !exists {
		return
	}
	if err != nil {
		c.log.WithError(err).Warn("unreadable /admin/reassign_partitions; removing it")
		if err := c.o.ZK.SetReassignments(nil, c.st.fence()); err != nil && !c.fenced(err) {
			c.log.WithError(err).Warn("removing /admin/reassign_partitions")
		}
		return
	}
	for _, e := range entries {
		k := tpKey{e.Topic, e.Partition}
		if r := c.st.reassigning[k]; r != nil && sameOrder(r.target, e.Replicas) {
			r.legacy = true
			continue
		}
		if code, msg := c.startReassignment(TopicPartition{e.Topic, e.Partition}, e.Replicas, true); code != 0 {
			c.log.WithFields(map[string]any{"topic": e.Topic, "partition": e.Partition, "error_code": code}).
				Warnf("legacy reassignment refused: %s", msg)
		}
		if c.st == nil {
			return
		}
	}
	c.updateLegacyReassignments()
}

// updateLegacyReassignments rewrites /admin/reassign_partitions with the legacy moves still in
// progress, deleting it when none is left.
func (c *Controller) updateLegacyReassignments() {
	var left []zkmeta.Reassignment
	for _, k := range sortedKeys(keysOf(c.st.reassigning)) {
		if r := c.st.reassigning[k]; r.legacy {
			left = append(left, zkmeta.Reassignment{Topic: k.topic, Partition: k.partition, Replicas: r.target})
		}
	}
	if err := c.o.ZK.SetReassignments(left, c.st.fence()); err != nil && !c.fenced(err) && !errors.Is(err, zkmeta.ErrNoNode) {
		c.log.WithError(err).Warn("updating /admin/reassign_partitions")
	}
}

func copyMap(m map[int32][]int32) map[int32][]int32 {
	out := make(map[int32][]int32, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func setOrDelete(m map[int32][]int32, p int32, v []int32) {
	if len(v) == 0 {
		delete(m, p)
	} else {
		m[p] = v
	}
}

// union is a then the members of b not in a, in order.
func union(a, b []int32) []int32 {
	out := append([]int32(nil), a...)
	for _, x := range b {
		if !contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// minus is a without the members of b, in order.
func minus(a, b []int32) []int32 {
	var out []int32
	for _, x := range a {
		if !contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func sameOrder(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
