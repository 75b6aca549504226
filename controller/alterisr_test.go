package controller

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkmeta"
)

// TestAlterIsrRefusesIneligibleReplicas: an ISR expansion that adds a broker which is not live,
// is in controlled shutdown, or has the partition in a failed log dir is answered
// INELIGIBLE_REPLICA before anything is written; members already in the ISR are not judged
// (a shrink that keeps a dead member is the leader's to propose).
func TestAlterIsrRefusesIneligibleReplicas(t *testing.T) {
	newController := func() *Controller {
		c := &Controller{}
		c.st = &state{epoch: 3,
			live:         map[int32]zkmeta.BrokerInfo{1: {}, 2: {}, 3: {}},
			topics:       map[string]*topicState{},
			deleting:     map[string]map[partitionReplica]bool{},
			shuttingDown: map[int32]bool{}, offlineReplicas: map[int32]map[tpKey]bool{}}
		c.st.topics["t"] = &topicState{
			a:     zkmeta.TopicAssignment{Partitions: map[int32][]int32{0: {1, 2, 3}}},
			parts: map[int32]*zkmeta.PartitionState{0: {Leader: 1, LeaderEpoch: 4, ISR: []int32{1, 2}, ZkVersion: 7}},
		}
		return c
	}
	req := func(isr ...int32) kmsg.AlterPartitionRequestTopicPartition {
		p := kmsg.NewAlterPartitionRequestTopicPartition()
		p.Partition, p.LeaderEpoch, p.PartitionEpoch, p.NewISR = 0, 4, 7, isr
		return p
	}
	for _, tc := range []struct {
		name  string
		setup func(c *Controller)
		isr   []int32
	}{
		{"dead", func(c *Controller) { delete(c.st.live, 3) }, []int32{1, 2, 3}},
		{"shutting down", func(c *Controller) { c.st.shuttingDown[3] = true }, []int32{1, 2, 3}},
		{"offline log dir", func(c *Controller) { c.st.offlineReplicas[3] = map[tpKey]bool{{"t", 0}: true} }, []int32{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newController()
			tc.setup(c)
			if _, code := c.alterOne("t", req(tc.isr...), 1); code != kerr.IneligibleReplica.Code {
				t.Fatalf("adding broker 3: %v, want INELIGIBLE_REPLICA", kerr.ErrorForCode(code))
			}
		})
	}
	// A member already in the ISR is kept whatever its state: this proposal changes nothing
	// (same ISR), so it is answered with the current state, not refused.
	c := newController()
	delete(c.st.live, 2)
	if s, code := c.alterOne("t", req(1, 2), 1); code != 0 || s == nil {
		t.Fatalf("unchanged ISR with a dead member: %v %v", s, kerr.ErrorForCode(code))
	}
}
