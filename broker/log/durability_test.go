package log

import (
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// dirSyncFS is the real file system, recording every directory entry it creates or renames and
// forgetting it once its directory is fsynced. unsynced lists what a crash could still lose.
type dirSyncFS struct {
	vfs.FS
	mu      sync.Mutex
	pending map[string][]string // directory -> entries created or renamed in it since its last fsync
}

func newDirSyncFS() *dirSyncFS { return &dirSyncFS{FS: vfs.OS, pending: map[string][]string{}} }

func (f *dirSyncFS) note(path, what string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := filepath.Dir(path)
	f.pending[d] = append(f.pending[d], what+" "+filepath.Base(path))
}

func (f *dirSyncFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	_, statErr := f.FS.Stat(name)
	file, err := f.FS.OpenFile(name, flag, perm)
	if err == nil && flag&os.O_CREATE != 0 && os.IsNotExist(statErr) {
		f.note(name, "create")
	}
	return file, err
}

func (f *dirSyncFS) MkdirAll(path string, perm os.FileMode) error {
	// Every missing level is a new entry in its parent.
	var missing []string
	for p := path; ; p = filepath.Dir(p) {
		if _, err := f.FS.Stat(p); err == nil || p == filepath.Dir(p) {
			break
		}
		missing = append(missing, p)
	}
	err := f.FS.MkdirAll(path, perm)
	if err == nil {
		for _, p := range missing {
			f.note(p, "mkdir")
		}
	}
	return err
}

func (f *dirSyncFS) Rename(o, n string) error {
	err := f.FS.Rename(o, n)
	if err == nil {
		f.note(n, "rename")
		f.note(o, "rename-away")
	}
	return err
}

func (f *dirSyncFS) SyncDir(dir string) error {
	err := f.FS.SyncDir(dir)
	if err == nil {
		f.mu.Lock()
		delete(f.pending, filepath.Clean(dir))
		f.mu.Unlock()
	}
	return err
}

// unsynced lists pending entries inside root (the test's own directory).
func (f *dirSyncFS) unsynced(root string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for d, entries := range f.pending {
		if rel, err := filepath.Rel(root, d); err == nil && rel != ".." && (len(rel) < 3 || rel[:3] != "../") {
			for _, e := range entries {
				out = append(out, filepath.Join(rel, e))
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestDirectoryFsyncs: every file and directory the storage engine creates or renames — log
// dir, partition directory, segment, both indexes, producer snapshot, checkpoints, the .deleted
// renames of retention and the -delete rename of a deleted partition — is followed by an fsync
// of its directory before the operation that made it returns.
func TestDirectoryFsyncs(t *testing.T) {
	root := t.TempDir()
	fs := newDirSyncFS()
	cfg := smallConfig()
	cfg.RetentionBytes = 8 << 10
	check := func(step string) {
		t.Helper()
		if u := fs.unsynced(root); len(u) > 0 {
			t.Fatalf("after %s, directory entries not yet durable: %v", step, u)
		}
	}
	m, err := OpenManager(ManagerOptions{Dirs: []string{filepath.Join(root, "data", "logs")}, Default: cfg, FS: fs, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	check("opening a new log dir")
	l, err := m.GetOrCreateLog(TopicPartition{"t", 0}, cfg, [16]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	check("creating a partition")
	before := l.NumSegments()
	for i := 0; l.NumSegments() < before+4; i++ {
		if _, err := l.AppendAsLeader(simpleBatch(t, 4, 200, int64(1000+i)), 0); err != nil {
			t.Fatal(err)
		}
		// A roll fsyncs the old segment, and writes the epoch checkpoint, in the background.
		l.bg.Wait()
		check("an append and its roll")
	}
	if err := l.AssignEpochStartOffset(3, l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	check("a leader epoch and a flush")
	segs := l.NumSegments()
	m.RunRetention(time.Now())
	if l.NumSegments() >= segs {
		t.Fatalf("retention deleted nothing (%d segments)", segs)
	}
	check("retention deleting segments")
	if err := m.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	check("checkpoints")
	if _, err := m.GetOrCreateLog(TopicPartition{"gone", 0}, cfg, [16]byte{2}); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteLog(TopicPartition{"gone", 0}); err != nil {
		t.Fatal(err)
	}
	check("deleting a partition")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	check("close")
}

// TestFlushMessagesCountsRecords: flush.messages is a number of records (Kafka's
// log.flush.interval.messages), not of batches.
func TestFlushMessagesCountsRecords(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FlushIntervalMessages = 10
	_, l := newTestLog(t, cfg)
	appendBatch := func(n int) {
		t.Helper()
		if _, err := l.AppendAsLeader(simpleBatch(t, n, 10, 1000), 0); err != nil {
			t.Fatal(err)
		}
	}
	appendBatch(4)
	appendBatch(4) // 8 records in 2 batches: below 10, nothing flushed
	if rp := l.recoveryPointOffset(); rp != 0 {
		t.Fatalf("recovery point %d after 8 records, want 0 (no flush yet)", rp)
	}
	appendBatch(4) // 12 records: flushed
	if rp := l.recoveryPointOffset(); rp != 12 {
		t.Fatalf("recovery point %d after 12 records, want 12", rp)
	}
	appendBatch(9) // 9 more since the flush
	if rp := l.recoveryPointOffset(); rp != 12 {
		t.Fatalf("recovery point %d, want 12", rp)
	}
	appendBatch(1)
	if rp := l.recoveryPointOffset(); rp != 22 {
		t.Fatalf("recovery point %d after 10 more records, want 22", rp)
	}
}
