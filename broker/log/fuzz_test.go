package log

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// Fuzz targets for every parser of bytes the storage engine reads back from disk: checkpoint
// files, leader-epoch-checkpoint, meta.properties, both indexes, and segment recovery over
// arbitrary .log (and index) contents. A disk can hold anything — a torn write, another tool's
// file, bit rot — and the broker must either refuse it with an error or recover, never panic.
// The batch and producer-snapshot parsers have theirs in batch_test.go and log_test.go.

func FuzzParseOffsetCheckpoint(f *testing.F) {
	f.Add([]byte("0\n2\norders 0 15\norders 1 7\n"))
	f.Add([]byte("0\n0\n"))
	f.Add([]byte("0\n1\nt 2147483648 1\n"))
	f.Add([]byte("1\n0\n"))
	f.Add([]byte("0\n3\na 0 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseOffsetCheckpoint("cp", b)
		if err != nil {
			return
		}
		// What parsed is what Gregor writes back: write it and read it again.
		var out bytes.Buffer
		fmt.Fprintf(&out, "%d\n%d\n", checkpointVersion, len(m))
		for tp, off := range m {
			fmt.Fprintf(&out, "%s %d %d\n", tp.Topic, tp.Partition, off)
		}
		back, err := parseOffsetCheckpoint("cp", out.Bytes())
		if err != nil || !reflect.DeepEqual(back, m) {
			t.Fatalf("re-read of %v: %v, %v", m, back, err)
		}
	})
}

func FuzzParseEpochCheckpoint(f *testing.F) {
	f.Add([]byte("0\n3\n0 0\n2 100\n5 250\n"))
	f.Add([]byte("0\n3\n5 0\n2 100\n7 50\n")) // not monotonic: Kafka's load repairs it
	f.Add([]byte("0\n1\n-1 -1\n"))
	f.Add([]byte("0\n0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := parseEpochCheckpoint("leader-epoch-checkpoint", b)
		if err != nil {
			return
		}
		for i, e := range entries {
			if e.Epoch < 0 || e.StartOffset < 0 {
				t.Fatalf("negative entry %+v kept", e)
			}
			if i > 0 && (e.Epoch <= entries[i-1].Epoch || e.StartOffset <= entries[i-1].StartOffset) {
				t.Fatalf("entries not strictly increasing: %+v", entries)
			}
		}
		c := &epochCache{entries: entries}
		for _, probe := range []int64{-1, 0, 1, 100, math.MaxInt64} {
			c.epochForOffset(probe)
			c.endOffsetFor(int32(probe), 1000)
		}
	})
}

func FuzzParseMetaProperties(f *testing.F) {
	f.Add([]byte("#\n#Mon Jan 02 15:04:05 UTC 2006\ncluster.id=AbCdEfGhIjKlMnOpQrStUv\nversion=0\nbroker.id=1\n"))
	f.Add([]byte("broker.id=x\n"))
	f.Add([]byte("version=1\nnode.id=3\ndirectory.id=abc\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		mp, err := parseMetaProperties("meta.properties", b)
		if err != nil {
			return
		}
		if strings.ContainsAny(mp.ClusterID, "\r\n") || strings.IndexFunc(mp.ClusterID, unicode.IsSpace) >= 0 {
			return // not an id writeMetaProperties can write back on one line
		}
		var out bytes.Buffer
		fmt.Fprintf(&out, "cluster.id=%s\nversion=%d\nbroker.id=%d\n", mp.ClusterID, mp.Version, mp.BrokerID)
		back, err := parseMetaProperties("meta.properties", out.Bytes())
		if err != nil || back != mp {
			t.Fatalf("re-read of %+v: %+v, %v", mp, back, err)
		}
	})
}

func FuzzDecodeOffsetIndex(f *testing.F) {
	idx := func(pairs ...int32) []byte {
		var b []byte
		for _, p := range pairs {
			b = binary.BigEndian.AppendUint32(b, uint32(p))
		}
		return b
	}
	f.Add(idx(3, 4096, 9, 8200), int64(10000))
	f.Add(idx(3, 4096, 3, 8200), int64(10000))
	f.Add(idx(0, 0), int64(0))
	f.Add([]byte{1, 2, 3}, int64(5))
	f.Fuzz(func(t *testing.T, b []byte, logSize int64) {
		entries, err := decodeOffsetIndex(b, logSize, nil)
		if err != nil {
			return
		}
		for i, e := range entries {
			if e.rel < 0 || int64(e.pos) >= logSize || (i > 0 && (e.rel <= entries[i-1].rel || e.pos <= entries[i-1].pos)) {
				t.Fatalf("accepted inconsistent entries %+v for a %d-byte log", entries, logSize)
			}
		}
		// A lookup lands on an entry's position or the segment start, never elsewhere.
		for _, off := range []int64{-1, 0, 1 << 20, math.MaxInt64} {
			pos := lookupPosition(entries, 0, off)
			ok := pos == 0
			for _, e := range entries {
				ok = ok || e.pos == pos
			}
			if !ok {
				t.Fatalf("lookup of %d gave position %d, not an entry's", off, pos)
			}
		}
	})
}

func FuzzDecodeTimeIndex(f *testing.F) {
	idx := func(ts int64, rel int32) []byte {
		return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, uint64(ts)), uint32(rel))
	}
	f.Add(append(idx(1000, 0), idx(2000, 5)...), int64(100), int64(110))
	f.Add(append(idx(2000, 0), idx(1000, 5)...), int64(100), int64(110))
	f.Add(idx(1, 50), int64(0), int64(10))
	f.Fuzz(func(t *testing.T, b []byte, base, lastOffset int64) {
		entries, err := decodeTimeIndex(b, base, lastOffset, nil)
		if err != nil {
			return
		}
		for i, e := range entries {
			if e.rel < 0 || base+int64(e.rel) > lastOffset || (i > 0 && (e.ts <= entries[i-1].ts || e.rel < entries[i-1].rel)) {
				t.Fatalf("accepted inconsistent entries %+v", entries)
			}
		}
		for _, ts := range []int64{math.MinInt64, 0, 1500, math.MaxInt64} {
			lookupTimeOffset(entries, base, ts)
		}
	})
}

// noSyncFS is the real file system without fsyncs: durability is not what the recovery fuzz
// target tests, and fsyncs would make each input cost milliseconds.
type noSyncFS struct{ vfs.FS }

type noSyncFile struct{ vfs.File }

func (noSyncFile) Sync() error { return nil }

func (f noSyncFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noSyncFile{file}, nil
}

func (noSyncFS) SyncDir(string) error { return nil }

// fastTempDir is a temporary directory in memory (/dev/shm) when there is one: the recovery
// target rewrites a directory for every input, and a disk makes that the whole cost.
func fastTempDir(f *testing.F) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "gregor-fuzz-"); err == nil {
			f.Cleanup(func() { _ = os.RemoveAll(dir) })
			return dir
		}
	}
	return f.TempDir()
}

// recoverySeeds writes a real segment — batches of several shapes, a roll-free log with index
// entries — shuts it down cleanly and returns its three files, for the recovery target's seeds.
func recoverySeeds(f *testing.F) (logB, indexB, timeB []byte) {
	dir := f.TempDir()
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 100
	m := openTestManager(f, dir, cfg, nil)
	l, err := m.GetOrCreateLog(TopicPartition{"r", 0}, cfg, [16]byte{9})
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		recs := []testRecord{{key: []byte{byte(i)}, value: bytes.Repeat([]byte("v"), 40*i+1), ts: int64(1000 + i)}}
		if _, err := l.AppendAsLeader(buildBatch(f, recs, batchOpts{codec: i % 3}), 1); err != nil {
			f.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		f.Fatal(err)
	}
	read := func(suffix string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, "r-0", segmentName(0)+suffix))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	return read(logSuffix), read(indexSuffix), read(timeIndexSuffix)
}

// FuzzSegmentRecovery opens a partition directory whose one segment holds arbitrary bytes (and
// arbitrary index files), as after a crash (clean=false: every batch is validated, a bad tail
// truncated) or after a clean shutdown (clean=true: the indexes are trusted after Kafka's sanity
// checks, falling back to recovery when they fail). It must never panic or fail to open. After
// a crash recovery the log holds only valid batches with contiguous offsets, reads return them,
// and opening it again finds the same log.
func FuzzSegmentRecovery(f *testing.F) {
	logB, indexB, timeB := recoverySeeds(f)
	f.Add(logB, indexB, timeB, false)
	f.Add(logB, indexB, timeB, true)
	f.Add(logB[:len(logB)-7], indexB, timeB, false)                 // torn tail
	f.Add(logB[:len(logB)-7], indexB, timeB, true)                  // torn tail after a "clean" shutdown
	f.Add(logB, indexB[:len(indexB)-3], timeB, true)                // torn index
	f.Add(append(bytes.Clone(logB), logB...), indexB, timeB, false) // offsets repeat
	corrupt := bytes.Clone(logB)
	corrupt[len(corrupt)/2] ^= 0xff
	f.Add(corrupt, []byte{}, []byte{}, false)
	f.Add([]byte{}, []byte{}, []byte{}, true)
	gap := bytes.Clone(logB) // segment 0 whose first batch starts at 65536, as a compacted log may
	binary.BigEndian.PutUint64(gap, 65536)
	f.Add(gap, []byte{}, []byte{}, false)
	root := fastTempDir(f)
	fs := noSyncFS{vfs.OS}
	cfg := DefaultConfig()
	cfg.MaxIndexSize = 4096
	tp := TopicPartition{"f", 0}
	f.Fuzz(func(t *testing.T, logB, indexB, timeB []byte, clean bool) {
		dir := filepath.Join(root, tp.String())
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for suffix, b := range map[string][]byte{logSuffix: logB, indexSuffix: indexB, timeIndexSuffix: timeB} {
			if err := os.WriteFile(filepath.Join(dir, segmentName(0)+suffix), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		rp := int64(0)
		if clean {
			rp = cleanRecoveryPoint
		}
		l, err := openLog(fs, dir, tp, [16]byte{1}, cfg, rp, 0, time.Now, quietLogger())
		if err != nil {
			t.Fatalf("open failed instead of recovering: %v", err)
		}
		leo, start := l.LogEndOffset(), l.LogStartOffset()
		if leo < start {
			t.Fatalf("log end %d below log start %d", leo, start)
		}
		got, err := l.Read(start, math.MaxInt32, -1, true)
		if clean {
			l.closeForDelete() // the indexes were trusted, as Kafka does: only no panic is required
			return
		}
		if err != nil {
			t.Fatalf("read after recovery: %v", err)
		}
		hdrs, err := ValidateBatches(got, 0)
		if len(got) > 0 && err != nil {
			t.Fatalf("recovered log holds an invalid batch: %v", err)
		}
		// Offsets only grow, with gaps allowed as recovery and Kafka allow them (a compacted
		// log; a segment whose first batch starts past its base offset).
		next := start
		for _, h := range hdrs {
			if h.BaseOffset < next {
				t.Fatalf("recovered batches go backwards: batch at %d, previous ended before %d", h.BaseOffset, next)
			}
			next = h.LastOffset() + 1
			b, err := l.Read(h.BaseOffset, 1, -1, true) // each batch is found by its offset
			if err != nil || len(b) == 0 {
				t.Fatalf("batch at %d not found by offset: %v", h.BaseOffset, err)
			}
			if bh, _ := ParseBatchHeader(b); bh.BaseOffset != h.BaseOffset {
				t.Fatalf("read at %d returned the batch at %d", h.BaseOffset, bh.BaseOffset)
			}
		}
		if len(hdrs) > 0 && next != leo {
			t.Fatalf("log end %d, last batch ends at %d", leo, next)
		}
		size := l.Size()
		l.closeForDelete()
		again, err := openLog(fs, dir, tp, [16]byte{1}, cfg, 0, 0, time.Now, quietLogger())
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer again.closeForDelete()
		if again.LogEndOffset() != leo || again.Size() != size {
			t.Fatalf("reopened log: end %d size %d, first open: end %d size %d", again.LogEndOffset(), again.Size(), leo, size)
		}
	})
}
