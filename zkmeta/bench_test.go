package zkmeta

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gregor-broker/gregor/internal/zktest"
)

// BenchmarkReadPartitionStates: a new controller reading every partition's state znode, as its
// failover does (GetPartitionStates), over the main session alone and with reader sessions.
func BenchmarkReadPartitionStates(b *testing.B) {
	for _, sessions := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) { benchReadStates(b, sessions) })
	}
}

func benchReadStates(b *testing.B, sessions int) {
	const n = 10000
	s := zktest.Start(b)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Connect(ctx, s.Connect("/kafka"), 10*time.Second, WithReaderSessions(sessions-1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	if err := c.EnsurePaths(); err != nil {
		b.Fatal(err)
	}
	topics := n / 1000
	parts := make([]int32, 1000)
	states := make([]PartitionState, 1000)
	for i := range parts {
		parts[i] = int32(i)
		states[i] = PartitionState{ControllerEpoch: 1, Leader: 1, LeaderEpoch: 3, ISR: []int32{1, 2, 3}}
	}
	var refs []PartitionRef
	for t := 0; t < topics; t++ {
		name := fmt.Sprintf("t%d", t)
		if err := c.CreateTopic(TopicAssignment{Topic: name, Partitions: map[int32][]int32{0: {1, 2, 3}}}, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := c.CreatePartitionStates(name, parts, states, nil); err != nil {
			b.Fatal(err)
		}
		for _, p := range parts {
			refs = append(refs, PartitionRef{Topic: name, Partition: p})
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, st := range c.GetPartitionStates(refs) {
			if st == nil || st.Leader != 1 {
				b.Fatalf("%v: state %+v", refs[j], st)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/partition")
}
