package replica

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// TestParkedFetchesGauge: the gauge reads 0 with no fetch waiting, 1 while a long poll is
// parked (waited for as an event: the gauge itself, polled with a deadline), and 0 again once
// Shutdown has released it. Self-contained so it does not lean on replica_test.go's helpers.
func TestParkedFetchesGauge(t *testing.T) {
	logs, err := klog.OpenManager(klog.ManagerOptions{Dirs: []string{t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	reg := prometheus.NewRegistry()
	m := NewManager(Options{BrokerID: 1, Logs: logs, Registerer: reg, LogConfig: func(string) (klog.Config, int32, error) {
		return klog.DefaultConfig(), 1, nil
	}})
	tp := klog.TopicPartition{Topic: "parked", Partition: 0}
	if err := m.BecomeLeaderOrFollower(1, []PartitionState{{Topic: tp.Topic, Partition: 0, Leader: 1, ISR: []int32{1}, Replicas: []int32{1}}})[tp]; err != nil {
		t.Fatal(err)
	}
	gauge := func() float64 {
		t.Helper()
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() == ParkedFetchesMetric {
				return f.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("%s not registered", ParkedFetchesMetric)
		return 0
	}
	waitGauge := func(want float64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for gauge() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s = %v, want %v", ParkedFetchesMetric, gauge(), want)
			}
			time.Sleep(5 * time.Millisecond) // polling the observable gauge, with a deadline
		}
	}
	if g := gauge(); g != 0 {
		t.Fatalf("%s = %v with no fetch", ParkedFetchesMetric, g)
	}
	// A fetch that returns at once (nothing to wait for) is never counted.
	m.Fetch(context.Background(), FetchParams{ReplicaID: -1, MaxWait: 0, MinBytes: 1, MaxBytes: 1 << 20,
		Partitions: []FetchPartition{{TP: tp, Offset: 0, MaxBytes: 1 << 20, CurrentLeaderEpoch: -1}}})
	done := make(chan []FetchResult, 1)
	go func() {
		done <- m.Fetch(context.Background(), FetchParams{ReplicaID: -1, MaxWait: time.Minute, MinBytes: 1, MaxBytes: 1 << 20,
			Partitions: []FetchPartition{{TP: tp, Offset: 0, MaxBytes: 1 << 20, CurrentLeaderEpoch: -1}}})
	}()
	waitGauge(1)
	m.Shutdown()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("parked fetch not released by Shutdown")
	}
	waitGauge(0)
}
