package log

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRetentionByTime(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	cfg := smallConfig()
	cfg.RetentionMs = 60_000
	cfg.FileDeleteDelayMs = 1000
	dir := t.TempDir()
	m := openTestManager(t, dir, cfg, clk.now)
	defer m.Close()
	l, _ := m.GetOrCreateLog(TopicPartition{"ret", 0}, cfg, [16]byte{})
	old := clk.t.Add(-10 * time.Minute).UnixMilli()
	appendN(t, l, 30, 2, 100, old) // old records: several segments
	clk.advance(time.Second)
	segsBefore := l.NumSegments()
	// New records in the active segment (a roll happens so the old ones are all sealed).
	appendN(t, l, 1, 1, 4000, clk.t.UnixMilli())
	leo := l.LogEndOffset()
	m.RunRetention(clk.t)
	if n := l.NumSegments(); n != 1 {
		t.Fatalf("%d segments after retention (were %d), want only the active one", n, segsBefore+1)
	}
	if start := l.LogStartOffset(); start != leo-1 {
		t.Fatalf("log start %d, want %d", start, leo-1)
	}
	deleted := filesWithSuffix(t, l.Dir(), deletedSuffix)
	if len(deleted) == 0 {
		t.Fatal("no .deleted files: segments must be renamed before removal")
	}
	clk.advance(2 * time.Second)
	m.RunRetention(clk.t)
	if left := filesWithSuffix(t, l.Dir(), deletedSuffix); len(left) != 0 {
		t.Fatalf(".deleted files left after file.delete.delay.ms: %v", left)
	}
	// The active segment stays even when it too is old.
	clk.advance(time.Hour)
	m.RunRetention(clk.t)
	if l.NumSegments() != 1 || l.LogEndOffset() != leo {
		t.Fatal("retention removed the active segment")
	}
	if _, err := l.Read(leo-1, 1<<20, -1, true); err != nil {
		t.Fatalf("read the retained record: %v", err)
	}
}

func TestRetentionBySize(t *testing.T) {
	cfg := smallConfig()
	cfg.RetentionMs = -1
	cfg.RetentionBytes = 10 << 10
	m := openTestManager(t, t.TempDir(), cfg, nil)
	defer m.Close()
	l, _ := m.GetOrCreateLog(TopicPartition{"size", 0}, cfg, [16]byte{})
	appendN(t, l, 100, 2, 100, 1)
	before := l.Size()
	m.RunRetention(time.Now())
	// Kafka deletes the oldest segment while what remains without it is still >= retention.bytes,
	// so afterwards dropping one more would go below the limit.
	if after := l.Size(); after >= before || after-l.oldestSize() >= cfg.RetentionBytes {
		t.Fatalf("size %d -> %d with retention.bytes %d", before, after, cfg.RetentionBytes)
	}
	if l.LogStartOffset() == 0 {
		t.Fatal("log start offset did not advance")
	}
}

func (l *Log) oldestSize() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.segments[0].size
}

func filesWithSuffix(t *testing.T, dir, suffix string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), suffix) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// TestRetentionFollowsCleanupPolicy: retention.ms and retention.bytes delete segments only when
// cleanup.policy has delete; a compact-only log keeps every segment (the cleaner owns its size)
// except those below the log start offset that DeleteRecords moved.
func TestRetentionFollowsCleanupPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy      string
		byTime      bool // retention.ms small, else retention.bytes small
		wantDeleted bool
	}{
		{PolicyDelete, true, true},
		{PolicyDelete, false, true},
		{PolicyCompact, true, false},
		{PolicyCompact, false, false},
		{PolicyCompactDelete, true, true},
		{PolicyCompactDelete, false, true},
	} {
		name := tc.policy + map[bool]string{true: "/retention.ms", false: "/retention.bytes"}[tc.byTime]
		t.Run(name, func(t *testing.T) {
			clk := &clock{t: time.Unix(1_700_000_000, 0)}
			cfg := smallConfig()
			cfg.CleanupPolicy = tc.policy
			cfg.RetentionMs, cfg.RetentionBytes = -1, -1
			if tc.byTime {
				cfg.RetentionMs = 60_000
			} else {
				cfg.RetentionBytes = 4 << 10
			}
			m := openTestManager(t, t.TempDir(), cfg, clk.now)
			defer m.Close()
			l, _ := m.GetOrCreateLog(TopicPartition{"policy", 0}, cfg, [16]byte{})
			appendN(t, l, 100, 2, 100, clk.t.Add(-time.Hour).UnixMilli())
			before := l.NumSegments()
			if before < 4 {
				t.Fatalf("%d segments, want several", before)
			}
			m.RunRetention(clk.t)
			after := l.NumSegments()
			if deleted := after < before; deleted != tc.wantDeleted {
				t.Fatalf("segments %d -> %d: deleted=%v, want %v", before, after, deleted, tc.wantDeleted)
			}
			if !tc.wantDeleted && l.LogStartOffset() != 0 {
				t.Fatalf("log start moved to %d on a compacted log", l.LogStartOffset())
			}
			// DeleteRecords still removes segments below the new log start, whatever the policy.
			if _, err := l.DeleteRecordsBefore(30); err != nil {
				t.Fatal(err)
			}
			m.RunRetention(clk.t)
			if l.LogStartOffset() < 30 {
				t.Fatalf("log start %d after DeleteRecords(30)", l.LogStartOffset())
			}
			if _, err := l.Read(29, 1<<20, -1, true); err == nil {
				t.Fatal("read below the log start succeeded")
			}
		})
	}
}
