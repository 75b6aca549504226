package controller

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkmeta"
)

// ControlledShutdown handles a broker's ControlledShutdown (key 7), Kafka's
// KafkaController.doControlledShutdown, on the event goroutine: the broker is marked as shutting
// down (no election picks it from now on, no ISR takes it back), every replicated partition it
// leads gets the next live in-sync replica as leader, it leaves the ISR of every partition it
// follows, and it is told to stop those followers (StopReplica without deletion) so it stops
// fetching. The answer lists the replicated partitions it still leads — no other in-sync replica
// could take over; the broker retries (controlled.shutdown.max.retries) and then shuts down
// anyway. Partitions of replication factor 1 are not acted on and not listed, as in Kafka.
func (c *Controller) ControlledShutdown(ctx context.Context, brokerID int32, brokerEpoch int64) (remaining []kmsg.ControlledShutdownResponsePartitionsRemaining, code int16) {
	type result struct {
		rem  []kmsg.ControlledShutdownResponsePartitionsRemaining
		code int16
	}
	done := make(chan result, 1)
	c.enqueue(func() {
		rem, code := c.processControlledShutdown(brokerID, brokerEpoch)
		done <- result{rem, code}
	})
	select {
	case r := <-done:
		return r.rem, r.code
	case <-ctx.Done():
	case <-c.stopping:
	}
	return nil, kerr.NotController.Code
}

func (c *Controller) processControlledShutdown(id int32, epoch int64) ([]kmsg.ControlledShutdownResponsePartitionsRemaining, int16) {
	if c.st == nil {
		return nil, kerr.NotController.Code
	}
	b, live := c.st.live[id]
	if !live {
		return nil, kerr.BrokerNotAvailable.Code
	}
	if epoch >= 0 && b.Epoch != epoch {
		return nil, kerr.StaleBrokerEpoch.Code
	}
	c.st.shuttingDown[id] = true
	var updates []zkmeta.StateUpdate
	var stopped []tpKey // partitions it follows: stop its fetchers there
	for name, t := range c.st.topics {
		if c.st.deleting[name] != nil {
			continue
		}
		for p, replicas := range t.a.Partitions {
			s := t.parts[p]
			if s == nil || len(replicas) < 2 || !contains(replicas, id) {
				continue
			}
			var next *zkmeta.PartitionState
			if s.Leader == id {
				next = c.shutdownElection(name, p, s, id)
			} else {
				next = shrunkState(s, []int32{id})
				stopped = append(stopped, tpKey{name, p})
			}
			if next != nil {
				next.ControllerEpoch = c.st.epoch
				updates = append(updates, zkmeta.StateUpdate{Topic: name, Partition: p, State: *next})
			}
		}
	}
	changed := c.writeStates(updates, func(name string, p int32) bool {
		t := c.st.topics[name]
		cur := t.parts[p]
		var next *zkmeta.PartitionState
		if cur.Leader == id {
			next = c.shutdownElection(name, p, cur, id)
		} else {
			next = shrunkState(cur, []int32{id})
		}
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
	if c.st == nil {
		return nil, kerr.NotController.Code
	}
	c.publish(changed, false)
	c.stopReplicas(id, stopped)

	var rem []kmsg.ControlledShutdownResponsePartitionsRemaining
	for name, t := range c.st.topics {
		for p, replicas := range t.a.Partitions {
			if s := t.parts[p]; s != nil && s.Leader == id && len(replicas) > 1 && c.st.deleting[name] == nil {
				r := kmsg.NewControlledShutdownResponsePartitionsRemaining()
				r.Topic, r.Partition = name, p
				rem = append(rem, r)
			}
		}
	}
	c.log.WithFields(map[string]any{"broker": id, "moved": len(changed), "still_leading": len(rem)}).
		Info("controlled shutdown")
	return rem, 0
}

// shutdownElection is Kafka's ControlledShutdownPartitionLeaderElectionStrategy: the first
// replica in assignment order that is live, in the ISR and not shutting down leads, with the
// shutting-down broker out of the ISR and the leader epoch bumped; nil if there is none.
func (c *Controller) shutdownElection(name string, p int32, cur *zkmeta.PartitionState, id int32) *zkmeta.PartitionState {
	for _, r := range c.st.topics[name].a.Partitions[p] {
		if r != id && contains(cur.ISR, r) && c.replicaOnline(r, name, p) && !c.st.shuttingDown[r] {
			next := *cur
			next.Leader = r
			next.ISR = without(cur.ISR, id)
			next.LeaderEpoch = cur.LeaderEpoch + 1
			return &next
		}
	}
	return nil
}

// stopReplicas tells broker to stop serving parts without deleting them.
func (c *Controller) stopReplicas(broker int32, parts []tpKey) {
	if len(parts) == 0 {
		return
	}
	c.send(broker, stopReplicaRequest(c, broker, parts, false), nil)
}

// stopReplicaRequest is StopReplica v3 for parts, each with its current leader epoch.
func stopReplicaRequest(c *Controller, broker int32, parts []tpKey, deletePartition bool) *kmsg.StopReplicaRequest {
	req := kmsg.NewPtrStopReplicaRequest()
	req.Version = stopReplicaVersion
	req.ControllerID, req.ControllerEpoch = c.o.BrokerID, c.st.epoch
	req.BrokerEpoch = c.st.live[broker].Epoch
	byTopic := map[string]int{}
	for _, k := range sortedKeys(parts) {
		i, ok := byTopic[k.topic]
		if !ok {
			rt := kmsg.NewStopReplicaRequestTopic()
			rt.Topic = k.topic
			req.Topics = append(req.Topics, rt)
			i = len(req.Topics) - 1
			byTopic[k.topic] = i
		}
		ps := kmsg.NewStopReplicaRequestTopicPartitionState()
		ps.Partition, ps.Delete = k.partition, deletePartition
		if s := c.st.topics[k.topic].parts[k.partition]; s != nil {
			ps.LeaderEpoch = s.LeaderEpoch
		}
		req.Topics[i].PartitionStates = append(req.Topics[i].PartitionStates, ps)
	}
	return req
}

func without(xs []int32, x int32) []int32 {
	out := make([]int32, 0, len(xs))
	for _, y := range xs {
		if y != x {
			out = append(out, y)
		}
	}
	return out
}
