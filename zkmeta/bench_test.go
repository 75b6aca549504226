package zkmeta

import (
	"fmt"
	"sync"
	"testing"

	"github.com/gregor-broker/gregor/internal/zktest"
)

// BenchmarkReadPartitionStates: a new controller reading every partition's state znode, as its
// failover does, with 64 reads in flight on the one session.
func BenchmarkReadPartitionStates(b *testing.B) {
	const n, readers = 10000, 64 // readers: controller.stateReaders
	s := zktest.Start(b)
	c := connect(b, s)
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
	for t := 0; t < topics; t++ {
		name := fmt.Sprintf("t%d", t)
		if err := c.CreateTopic(TopicAssignment{Topic: name, Partitions: map[int32][]int32{0: {1, 2, 3}}}, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := c.CreatePartitionStates(name, parts, states, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		work := make(chan [2]int)
		var wg sync.WaitGroup
		for r := 0; r < readers; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range work {
					if _, err := c.GetPartitionState(fmt.Sprintf("t%d", k[0]), int32(k[1])); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for t := 0; t < topics; t++ {
			for p := 0; p < 1000; p++ {
				work <- [2]int{t, p}
			}
		}
		close(work)
		wg.Wait()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/partition")
}
