package e2e

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkIdleReplication (a benchmark, not a test): 3 brokers holding GREGOR_IDLE_PARTITIONS
// partitions of replication factor 3 (default 10 000) and no client. Over GREGOR_IDLE_SECONDS
// (default 20) the brokers spend CPU only on keeping their followers' long polls going. Run
// twice in one go: with incremental fetch sessions (the default slots) and with
// max.incremental.fetch.session.cache.slots=0, where every follower fetch names, and gets back,
// all the partitions it follows. Reported as the three brokers' CPU milliseconds per second.
//
//	go test -run '^$' -bench IdleReplication -benchtime 1x -timeout 60m ./internal/e2e/
func BenchmarkIdleReplication(b *testing.B) {
	total := envInt(b, "GREGOR_IDLE_PARTITIONS", 10_000, 100)
	window := time.Duration(envInt(b, "GREGOR_IDLE_SECONDS", 20, 1)) * time.Second
	for _, slots := range []string{"1000", "0"} {
		b.Run("session-slots="+slots, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				f := newFailoverCluster(b, total, map[string]string{"max.incremental.fetch.session.cache.slots": slots})
				pids := map[string]int{}
				for id := int32(1); id <= 3; id++ {
					pids[fmt.Sprintf("broker %d", id)] = f.c.PID(id)
				}
				// The fetchers' first, full fetches and the leaders' first ISR checks are over
				// before the window opens.
				time.Sleep(5 * time.Second)
				before := cpuTimes(pids)
				b.StartTimer()
				time.Sleep(window) // the measurement window: idle, by design
				b.StopTimer()
				after := cpuTimes(pids)
				var used time.Duration
				for name := range pids {
					used += after[name] - before[name]
				}
				perSec := float64(used.Milliseconds()) / window.Seconds()
				b.ReportMetric(perSec, "broker-cpu-ms/s")
				fmt.Printf("%d partitions, session slots %s: the three brokers used %v of CPU in %v idle (%.0f ms/s)\n",
					total, slots, used, window, perSec)
			}
		})
	}
}
