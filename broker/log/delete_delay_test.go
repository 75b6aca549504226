package log

import (
	"testing"
	"time"
)

// TestCleanedSegmentsRemovedAfterDeleteDelay: the segments a running cleaner replaces are
// removed file.delete.delay.ms after their rename, as Kafka schedules each deletion — not at the
// next retention check (log.retention.check.interval.ms, 5 minutes), which on a busy compacted
// log such as __consumer_offsets keeps many times the compacted log on disk.
func TestCleanedSegmentsRemovedAfterDeleteDelay(t *testing.T) {
	cfg := smallConfig()
	cfg.CleanupPolicy = PolicyCompact
	cfg.MinCleanableDirtyRatio = 0.01
	cfg.FileDeleteDelayMs = 0
	m, err := OpenManager(ManagerOptions{Dirs: []string{t.TempDir()}, Default: cfg, Logger: quietLogger(),
		DeleteCheckInterval: 10 * time.Millisecond,
		Cleaner:             CleanerConfig{Enable: true, Threads: 1, Backoff: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := m.GetOrCreateLog(TopicPartition{"compacted", 0}, cfg, [16]byte{})
	if err != nil {
		t.Fatal(err)
	}
	// 40 batches of the same 4 keys: many segments, almost everything superseded.
	appendN(t, l, 40, 4, 200, time.Now().UnixMilli())
	l.SetHighWatermark(l.LogEndOffset())
	before := l.Size()
	m.Start()
	deadline := time.Now().Add(20 * time.Second)
	for {
		cleaned := l.Size() < before/2
		left := filesWithSuffix(t, l.Dir(), deletedSuffix)
		if cleaned && len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %d bytes (was %d); .deleted files still there: %v", l.Size(), before, left)
		}
		time.Sleep(10 * time.Millisecond) // the cleaner and the deletion run on their own goroutines
	}
}
