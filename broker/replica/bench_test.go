package replica

import (
	"fmt"
	"io"
	"testing"

	"github.com/sirupsen/logrus"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// BenchmarkLeaderAndIsr: one LeaderAndIsr over n partitions, as a failover sends it — first
// creating them (a new topic), then moving all of them to a new leader epoch with this broker
// leading a third, the cost a controller failover puts on each broker.
func BenchmarkLeaderAndIsr(b *testing.B) {
	for _, n := range []int{1000, 3000} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			quiet := logrus.New()
			quiet.SetOutput(io.Discard)
			logs, err := klog.OpenManager(klog.ManagerOptions{Dirs: []string{b.TempDir()}, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer logs.Close()
			m := NewManager(Options{BrokerID: me, Logs: logs, Logger: quiet,
				LogConfig: func(string) (klog.Config, int32, error) { return klog.DefaultConfig(), 1, nil }})
			defer m.Shutdown()
			states := func(epoch int32) []PartitionState {
				out := make([]PartitionState, n)
				for i := range out {
					leader := int32(i%3) + 1
					out[i] = PartitionState{Topic: fmt.Sprintf("t%d", i/1000), Partition: int32(i % 1000), Leader: leader,
						LeaderEpoch: epoch, ISR: []int32{1, 2, 3}, Replicas: []int32{1, 2, 3}}
				}
				return out
			}
			m.BecomeLeaderOrFollower(1, states(0))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				errs := m.BecomeLeaderOrFollower(1, states(int32(i+1)))
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer() // closing the logs (deferred) is not the LeaderAndIsr's cost
		})
	}
}
