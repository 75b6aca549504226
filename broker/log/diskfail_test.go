package log

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// logState is everything an append may change that a reader, a follower, the high watermark or
// the next append depends on.
type logState struct {
	leo, hw, start int64
	size           int64
	segments       int
	epoch          int32
	epochs         []epochEntry
	producerLast   int32 // last sequence of the test producer, -1 unknown
	fileSize       int64 // the active segment's bytes on disk
	data           []byte
}

func stateOf(t *testing.T, l *Log, pid int64) logState {
	t.Helper()
	l.mu.Lock()
	st := logState{leo: l.nextOffset, start: l.logStartOffset, segments: len(l.segments),
		epochs: append([]epochEntry(nil), l.epochs.entries...), producerLast: -1}
	if e := l.producers.producers[pid]; e != nil {
		st.producerLast = e.lastSeq()
	}
	for _, s := range l.segments {
		st.size += s.size
	}
	active := l.active().path(logSuffix)
	l.mu.Unlock()
	st.hw, st.epoch = l.HighWatermark(), l.LatestEpoch()
	if fi, err := os.Stat(active); err == nil {
		st.fileSize = fi.Size()
	}
	st.data = mustRead(t, l, st.start, 1<<24, -1, true)
	return st
}

func (s logState) diff(o logState) string {
	var d []string
	check := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			d = append(d, name)
		}
	}
	check("log end", s.leo, o.leo)
	check("high watermark", s.hw, o.hw)
	check("log start", s.start, o.start)
	check("size", s.size, o.size)
	check("segments", s.segments, o.segments)
	check("latest epoch", s.epoch, o.epoch)
	check("epoch cache", s.epochs, o.epochs)
	check("producer state", s.producerLast, o.producerLast)
	check("active segment file size", s.fileSize, o.fileSize)
	if !bytes.Equal(s.data, o.data) {
		d = append(d, "data")
	}
	return strings.Join(d, ", ")
}

// TestFailedAppendLeavesLogUnchanged: an I/O error in an append — the write (an error, a short
// write, ENOSPC), the flush flush.messages asks for, the roll before the write, the leader-epoch
// checkpoint — answers ErrStorage and leaves the log exactly as before the append: log end,
// producer state, epochs, segments, the bytes in the file. The directory is offline from then on
// (every later append fails at once, without touching the disk), it is reported once on
// DirFailures, and reopened on a healthy disk the log holds what it held before the failure and
// accepts the failed batch's sequence number again: nothing of it was kept.
func TestFailedAppendLeavesLogUnchanged(t *testing.T) {
	const pid = 4711
	for _, tc := range []struct {
		name        string
		fault       vfs.Fault
		cause       error // what the append's error must also wrap (nil: not checked)
		cfg         func(*Config)
		rolls       bool  // the failing batch does not fit in the active segment
		leaderEpoch int32 // > 5: the failing batch starts a new leader epoch
		follower    bool  // appended as a follower, with the leader's offsets
	}{
		{name: "write error", fault: vfs.FaultWriteError, cause: syscall.EIO},
		{name: "short write", fault: vfs.FaultShortWrite, cause: io.ErrShortWrite},
		{name: "ENOSPC", fault: vfs.FaultNoSpace, cause: syscall.ENOSPC},
		{name: "fsync error (flush.messages)", fault: vfs.FaultSyncError, cause: syscall.EIO,
			cfg: func(c *Config) { c.FlushIntervalMessages = 3 }},
		{name: "fsync error in the roll", fault: vfs.FaultSyncError, cause: syscall.EIO, rolls: true},
		{name: "write error in the roll", fault: vfs.FaultWriteError, cause: syscall.EIO, rolls: true},
		{name: "leader epoch checkpoint", fault: vfs.FaultWriteError, cause: syscall.EIO, leaderEpoch: 9},
		{name: "follower write error", fault: vfs.FaultWriteError, cause: syscall.EIO, follower: true},
		{name: "follower ENOSPC with a new epoch", fault: vfs.FaultNoSpace, cause: syscall.ENOSPC, follower: true, leaderEpoch: 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := vfs.NewFaulty(vfs.OS)
			cfg := smallConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			m, err := OpenManager(ManagerOptions{Dirs: []string{dir}, Default: cfg, FS: fs, Logger: silentLogger()})
			if err != nil {
				t.Fatal(err)
			}
			tp := TopicPartition{"fail", 0}
			l, err := m.GetOrCreateLog(tp, cfg, [16]byte{7})
			if err != nil {
				t.Fatal(err)
			}
			batch := func(seq int32, size int) []byte {
				recs := make([]testRecord, 3)
				for i := range recs {
					recs[i] = testRecord{key: []byte{byte(i)}, value: bytes.Repeat([]byte{byte(seq)}, size), ts: 1000 + int64(seq)}
				}
				return buildBatch(t, recs, batchOpts{pid: pid, epoch: 1, seq: seq})
			}
			seq := int32(0)
			for i := 0; i < 5; i++ { // 15 records, about 1 KiB: one segment of smallConfig's 4 KiB
				if _, err := l.AppendAsLeader(batch(seq, 60), 5); err != nil {
					t.Fatal(err)
				}
				seq += 3
			}
			l.SetHighWatermark(9)
			size := 60
			if tc.rolls {
				size = 1500 // 3 × 1.5 KiB does not fit in what is left of the segment
			}
			failing := batch(seq, size)
			if tc.follower {
				setBaseOffset(failing, l.LogEndOffset())
				setLeaderEpoch(failing, max(tc.leaderEpoch, 5))
			}
			before := stateOf(t, l, pid)
			pdir := filepath.Join(dir, tp.String())
			if err := fs.Inject(tc.fault, pdir); err != nil {
				t.Fatal(err)
			}

			if tc.follower {
				_, err = l.AppendAsFollower(failing)
			} else {
				_, err = l.AppendAsLeader(failing, max(tc.leaderEpoch, 5))
			}
			if !errors.Is(err, ErrStorage) || (tc.cause != nil && !errors.Is(err, tc.cause)) {
				t.Fatalf("failed append answered %v, want ErrStorage wrapping %v", err, tc.cause)
			}
			if fs.State().Fired[tc.fault] == 0 {
				t.Fatal("the armed fault never fired: the test did not exercise the failure")
			}
			if !l.Offline() || l.ParentDir() != dir {
				t.Fatalf("offline %v, parent %s", l.Offline(), l.ParentDir())
			}
			if d := stateOf(t, l, pid).diff(before); d != "" {
				t.Fatalf("the failed append changed the log: %s", d)
			}
			select {
			case got := <-m.DirFailures():
				if got != dir {
					t.Fatalf("DirFailures delivered %s, want %s", got, dir)
				}
			default:
				t.Fatal("the failure was not reported on DirFailures")
			}

			// From now on nothing touches the disk: appends, flushes, truncations fail at once.
			fired := fs.State().Fired[tc.fault]
			if _, err := l.AppendAsLeader(batch(seq, 60), 5); !errors.Is(err, ErrStorage) {
				t.Fatalf("append after the failure: %v, want ErrStorage", err)
			}
			if err := l.Flush(); !errors.Is(err, ErrStorage) {
				t.Fatalf("flush after the failure: %v, want ErrStorage", err)
			}
			if err := l.TruncateTo(3); !errors.Is(err, ErrStorage) {
				t.Fatalf("truncation after the failure: %v, want ErrStorage", err)
			}
			if _, err := l.DeleteRecordsBefore(3); !errors.Is(err, ErrStorage) {
				t.Fatalf("DeleteRecords after the failure: %v, want ErrStorage", err)
			}
			if got := fs.State().Fired[tc.fault]; got != fired {
				t.Fatalf("the offline log went on using its disk (%d faults fired, %d before)", got, fired)
			}
			if d := stateOf(t, l, pid).diff(before); d != "" {
				t.Fatalf("appends to the offline log changed it: %s", d)
			}
			select {
			case got := <-m.DirFailures():
				t.Fatalf("%s reported twice", got)
			default:
			}

			dropped, online := m.TakeDirOffline(dir)
			if len(dropped) != 1 || dropped[0] != tp || online != 0 || m.Log(tp) != nil {
				t.Fatalf("TakeDirOffline: %v, %d online, log %v", dropped, online, m.Log(tp))
			}
			if _, err := m.GetOrCreateLog(tp, cfg, [16]byte{7}); !errors.Is(err, ErrStorage) {
				t.Fatalf("recreating an offline partition: %v, want ErrStorage", err)
			}
			if err := m.Close(); err != nil {
				t.Fatalf("close with its only dir offline: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); !os.IsNotExist(err) {
				t.Fatalf("clean-shutdown marker written to an offline dir (%v)", err)
			}

			// Restart on a healthy disk: recovery keeps exactly what was appended before.
			m2 := openTestManager(t, dir, cfg, nil)
			defer m2.Close()
			l2 := m2.Log(tp)
			after := stateOf(t, l2, pid)
			after.hw, before.hw = 0, 0 // not checkpointed before the failure: restored as 0
			after.segments, before.segments = 0, 0
			after.fileSize, before.fileSize = 0, 0 // a roll's empty segment may be the active one now
			if d := after.diff(before); d != "" {
				t.Fatalf("after restart the log differs from before the failed append: %s", d)
			}
			if info, err := l2.AppendAsLeader(batch(seq, 60), 5); err != nil || info.FirstOffset != before.leo {
				t.Fatalf("the failed batch's sequence again after restart: %+v, %v (want offset %d)", info, err, before.leo)
			}
		})
	}
}

// TestDirFailureOfOneOfTwoDirs: with two log dirs, the failure of one leaves the other serving:
// its logs keep appending, new logs are placed only there, checkpoints and the clean-shutdown
// marker are written only there, and the failed dir is never written again.
func TestDirFailureOfOneOfTwoDirs(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	fs := vfs.NewFaulty(vfs.OS)
	cfg := smallConfig()
	m, err := OpenManager(ManagerOptions{Dirs: []string{a, b}, Default: cfg, FS: fs, Logger: silentLogger()})
	if err != nil {
		t.Fatal(err)
	}
	l0, _ := m.GetOrCreateLog(TopicPartition{"two", 0}, cfg, [16]byte{})
	l1, _ := m.GetOrCreateLog(TopicPartition{"two", 1}, cfg, [16]byte{})
	if l0.ParentDir() == l1.ParentDir() {
		t.Fatalf("both logs in %s: placement does not spread", l0.ParentDir())
	}
	failed, good := l0, l1
	appendN(t, failed, 2, 2, 50, 1)
	appendN(t, good, 2, 2, 50, 1)
	if err := fs.Inject(vfs.FaultWriteError, failed.ParentDir()); err != nil {
		t.Fatal(err)
	}
	if _, err := failed.AppendAsLeader(simpleBatch(t, 2, 50, 9), 5); !errors.Is(err, ErrStorage) {
		t.Fatalf("append on the failing dir: %v", err)
	}
	if got := <-m.DirFailures(); got != failed.ParentDir() {
		t.Fatalf("DirFailures: %s", got)
	}
	if _, online := m.TakeDirOffline(failed.ParentDir()); online != 1 {
		t.Fatalf("%d dirs online, want 1", online)
	}
	if got := m.OfflineDirs(); len(got) != 1 || got[0] != failed.ParentDir() {
		t.Fatalf("OfflineDirs %v", got)
	}
	appendN(t, good, 1, 2, 50, 9) // the other dir serves on
	l2, err := m.GetOrCreateLog(TopicPartition{"two", 2}, cfg, [16]byte{})
	if err != nil || l2.ParentDir() != good.ParentDir() {
		t.Fatalf("new log: %v in %v, want the online dir", err, l2)
	}
	if err := m.Checkpoint(); err != nil {
		t.Fatalf("checkpoint wrote to the failed dir: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(good.ParentDir(), cleanShutdownFile)); err != nil {
		t.Fatalf("no clean-shutdown marker in the online dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(failed.ParentDir(), cleanShutdownFile)); !os.IsNotExist(err) {
		t.Fatalf("clean-shutdown marker in the failed dir (%v)", err)
	}
	m = openTestManager(t, failed.ParentDir(), cfg, nil) // what the failed dir holds
	defer m.Close()
	if l := m.Log(TopicPartition{"two", 0}); l == nil || l.LogEndOffset() != 4 {
		t.Fatalf("the failed dir's log after restart: %v", l)
	}
}

// TestFlushFailureTakesDirOffline: an fsync error in a flush outside an append (flush.ms, a
// caller's Flush) takes the directory offline too.
func TestFlushFailureTakesDirOffline(t *testing.T) {
	dir := t.TempDir()
	fs := vfs.NewFaulty(vfs.OS)
	cfg := smallConfig()
	m, err := OpenManager(ManagerOptions{Dirs: []string{dir}, Default: cfg, FS: fs, Logger: silentLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, _ := m.GetOrCreateLog(TopicPartition{"flush", 0}, cfg, [16]byte{})
	appendN(t, l, 2, 2, 50, 1)
	if err := fs.Inject(vfs.FaultSyncError, dir); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); !errors.Is(err, ErrStorage) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("flush: %v", err)
	}
	if !l.Offline() || l.LogEndOffset() != 4 {
		t.Fatalf("offline %v, log end %d", l.Offline(), l.LogEndOffset())
	}
	if got := <-m.DirFailures(); got != dir {
		t.Fatalf("DirFailures: %s", got)
	}
}
