package log

import (
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// TestCrashRecoveryProperty: random appends, then the active segment is damaged — truncated at a
// random byte or one random byte flipped — as a crash or bad disk would leave it. Reopening
// without a clean shutdown must recover exactly the longest valid prefix; the indexes must agree
// with a linear scan for every offset and timestamp queried; appends continue at the next offset.
func TestCrashRecoveryProperty(t *testing.T) {
	iterations := 40
	if testing.Short() {
		iterations = 10
	}
	for it := 0; it < iterations; it++ {
		seed := time.Now().UnixNano() + int64(it)
		t.Run("", func(t *testing.T) { crashOnce(t, seed) })
	}
}

type written struct {
	base, last int64
	size       int
	maxTs      int64
	pos        int64 // position in its segment file
	segBase    int64
}

func crashOnce(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentBytes = int64(2048 + rng.Intn(4096))
	cfg.IndexIntervalBytes = int32(64 + rng.Intn(512))
	m := openTestManager(t, dir, cfg, nil)
	tp := TopicPartition{"crash", 0}
	l, err := m.GetOrCreateLog(tp, cfg, [16]byte{})
	if err != nil {
		t.Fatal(err)
	}
	var batches []written
	ts := int64(1_000_000)
	for i, n := 0, 5+rng.Intn(60); i < n; i++ {
		recs := 1 + rng.Intn(5)
		ts += int64(rng.Intn(20)) - 5 // timestamps are not monotonic, as real producers' are not
		b := simpleBatch(t, recs, 1+rng.Intn(300), ts)
		info, err := l.AppendAsLeader(b, int32(rng.Intn(3)))
		if err != nil {
			t.Fatal(err)
		}
		h, _ := ParseBatchHeader(b)
		batches = append(batches, written{base: info.FirstOffset, last: info.LastOffset, size: len(b), maxTs: h.MaxTimestamp})
	}
	// Find each batch's segment and position by replaying the roll rule from the files on disk.
	segBases := segmentBases(t, l.Dir())
	active := segBases[len(segBases)-1]
	var pos int64
	for i := range batches {
		b := &batches[i]
		idx := sort.Search(len(segBases), func(j int) bool { return segBases[j] > b.base }) - 1
		b.segBase = segBases[idx]
		if i > 0 && batches[i-1].segBase != b.segBase {
			pos = 0
		}
		b.pos = pos
		pos += int64(b.size)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	// Crash: abandon the manager (no Close, so no clean-shutdown marker), then damage the file.
	logPath := filepath.Join(l.Dir(), segmentName(active)+logSuffix)
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// Recovery points are written only on flush/checkpoint; say nothing was checkpointed so
	// recovery validates every segment.
	expectValid := len(batches)
	if len(data) > 0 {
		cut := rng.Int63n(int64(len(data)))
		if rng.Intn(2) == 0 {
			if err := os.Truncate(logPath, cut); err != nil {
				t.Fatal(err)
			}
			t.Logf("truncated active segment %d at %d of %d", active, cut, len(data))
			for i, b := range batches {
				if b.segBase == active && b.pos+int64(b.size) > cut {
					expectValid = i
					break
				}
			}
		} else {
			flip := byte(1 + rng.Intn(255))
			data[cut] ^= flip
			for i, b := range batches {
				if b.segBase == active && cut >= b.pos && cut < b.pos+int64(b.size) {
					// The partition leader epoch (bytes 12-15) is not covered by the CRC; a flip
					// there is not detectable and the batch stays valid. Nor is the base offset
					// (bytes 0-7): a flip that lowers it is caught (offsets must grow), one that
					// raises it looks like a compaction gap, as in Kafka — TestRecoveryOffsetOrder
					// covers both, so the flip is moved past the base offset here.
					if cut-b.pos < offBatchLength {
						data[cut] ^= flip // undo, and flip a byte past the base offset instead
						cut = b.pos + offBatchLength + rng.Int63n(int64(b.size-offBatchLength))
						data[cut] ^= flip
					}
					if rel := cut - b.pos; rel >= offLeaderEpoch && rel < offLeaderEpoch+4 {
						break
					}
					expectValid = i
					break
				}
			}
			if err := os.WriteFile(logPath, data, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("flipped byte %d of %d in active segment %d", cut, len(data), active)
		}
	}
	m2 := openTestManager(t, dir, cfg, nil)
	defer m2.Close()
	l2 := m2.Log(tp)
	wantLEO := int64(0)
	if expectValid > 0 {
		wantLEO = batches[expectValid-1].last + 1
	}
	if leo := l2.LogEndOffset(); leo != wantLEO {
		t.Fatalf("recovered LEO %d, want %d (%d of %d batches valid)", leo, wantLEO, expectValid, len(batches))
	}
	// Every offset maps, through the index, to the batch a linear scan finds.
	for _, b := range batches[:expectValid] {
		for off := b.base; off <= b.last; off++ {
			got, err := l2.Read(off, 1, -1, true)
			if err != nil {
				t.Fatalf("read %d: %v", off, err)
			}
			if h := batchesOf(t, got); len(h) != 1 || h[0].BaseOffset != b.base {
				t.Fatalf("read %d returned batch %+v, want base %d", off, h, b.base)
			}
		}
	}
	// Every timestamp query agrees with a linear scan over the surviving batches.
	valid := batches[:expectValid]
	for q := 0; q < 30; q++ {
		target := int64(1_000_000) + int64(rng.Intn(400)) - 50
		wantOff := int64(-1)
		for _, b := range valid {
			if b.maxTs >= target {
				wantOff = b.base
				break
			}
		}
		off, _, ok := l2.OffsetForTimestamp(target)
		if wantOff < 0 {
			if ok {
				t.Fatalf("timestamp %d: found offset %d, want none", target, off)
			}
			continue
		}
		// Records inside a batch have timestamps ts, ts+1, ...: the first one >= target.
		if !ok || off < wantOff || off > valid[indexOfBase(valid, wantOff)].last {
			t.Fatalf("timestamp %d: offset %d ok=%v, want within batch at %d", target, off, ok, wantOff)
		}
	}
	// Appends continue with the next offset.
	info, err := l2.AppendAsLeader(simpleBatch(t, 2, 10, 5), 9)
	if err != nil || info.FirstOffset != wantLEO {
		t.Fatalf("append after recovery: %+v %v, want first offset %d", info, err, wantLEO)
	}
}

func indexOfBase(bs []written, base int64) int {
	for i, b := range bs {
		if b.base == base {
			return i
		}
	}
	return -1
}

func segmentBases(t *testing.T, dir string) []int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, e := range entries {
		if b, ok := parseSegmentName(e.Name(), logSuffix); ok {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// TestCorruptIndexIsRebuilt: after a clean shutdown an index that disagrees with its log is
// rebuilt, not trusted.
func TestCorruptIndexIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	m := openTestManager(t, dir, cfg, nil)
	l, _ := m.GetOrCreateLog(TopicPartition{"idx", 0}, cfg, [16]byte{})
	appendN(t, l, 50, 2, 100, 1)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dir, "idx-0", segmentName(0)+indexSuffix)
	if err := os.WriteFile(first, []byte{0, 0, 0, 9, 0x7f, 0, 0, 0}, 0o644); err != nil {
		t.Fatal(err)
	}
	m = openTestManager(t, dir, cfg, nil)
	defer m.Close()
	l = m.Log(TopicPartition{"idx", 0})
	for off := int64(0); off < 100; off += 7 {
		b, err := l.Read(off, 1, -1, true)
		if err != nil || batchesOf(t, b)[0].LastOffset() < off || batchesOf(t, b)[0].BaseOffset > off {
			t.Fatalf("read %d after index corruption: %v", off, err)
		}
	}
}

// TestTornWriteLeavesWholeBatches: a write that fails halfway (vfs fault) leaves the segment
// holding only whole batches; the log's directory is offline from then on (KIP-112: a failed
// disk is not trusted again), and reopened on a healthy disk the log holds exactly what was
// appended before the failure and takes the next batch at the offset the failed one was given.
func TestTornWriteLeavesWholeBatches(t *testing.T) {
	dir := t.TempDir()
	fs := newFaultyOS()
	cfg := smallConfig()
	m, err := OpenManager(ManagerOptions{Dirs: []string{dir}, Default: cfg, FS: fs, Logger: silentLogger()})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := m.GetOrCreateLog(TopicPartition{"torn", 0}, cfg, [16]byte{})
	appendN(t, l, 3, 2, 100, 1)
	fs.TearWritesAfter(50)
	if _, err := l.AppendAsLeader(simpleBatch(t, 2, 100, 9), 0); !errors.Is(err, ErrStorage) {
		t.Fatalf("torn write answered %v, want ErrStorage", err)
	}
	fs.Heal()
	if _, err := l.AppendAsLeader(simpleBatch(t, 2, 100, 9), 0); !errors.Is(err, ErrStorage) {
		t.Fatalf("append to an offline log dir answered %v, want ErrStorage", err)
	}
	if leo := l.LogEndOffset(); leo != 6 {
		t.Fatalf("log end %d after the torn write, want 6", leo)
	}
	m.TakeDirOffline(dir)
	if err := m.Close(); err != nil {
		t.Fatalf("close with the dir offline: %v", err)
	}
	m = openTestManager(t, dir, cfg, nil)
	defer m.Close()
	l = m.Log(TopicPartition{"torn", 0})
	info, err := l.AppendAsLeader(simpleBatch(t, 2, 100, 9), 0)
	if err != nil || info.FirstOffset != 6 {
		t.Fatalf("append after restart: %+v %v", info, err)
	}
	b := mustRead(t, l, 0, 1<<20, -1, true)
	if hs := batchesOf(t, b); len(hs) != 4 {
		t.Fatalf("%d batches after torn write and retry, want 4", len(hs))
	}
}

// TestRecoveryOffsetOrder: recovery accepts gaps between batches (a compacted log has them) but
// truncates at a batch whose offsets go backwards.
func TestRecoveryOffsetOrder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		bases     []int64 // base offset of each 2-record batch, in file order
		wantValid int
	}{
		{"contiguous", []int64{0, 2, 4, 6}, 4},
		{"gaps", []int64{0, 5, 9, 100}, 4},
		{"backwards", []int64{0, 5, 3, 10}, 2},
		{"overlap", []int64{0, 2, 3, 10}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var file []byte
			for _, base := range tc.bases {
				b := simpleBatch(t, 2, 20, 1000)
				setBaseOffset(b, base)
				file = append(file, b...)
			}
			pdir := filepath.Join(dir, "order-0")
			if err := os.MkdirAll(pdir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(pdir, segmentName(0)+logSuffix), file, 0o644); err != nil {
				t.Fatal(err)
			}
			m := openTestManager(t, dir, smallConfig(), nil) // no clean-shutdown marker: recover
			defer m.Close()
			l := m.Log(TopicPartition{"order", 0})
			want := tc.bases[tc.wantValid-1] + 2
			if leo := l.LogEndOffset(); leo != want {
				t.Fatalf("LEO %d, want %d", leo, want)
			}
			got, err := l.Read(0, 1<<20, -1, true)
			if err != nil {
				t.Fatal(err)
			}
			hs := batchesOf(t, got)
			if len(hs) != tc.wantValid {
				t.Fatalf("%d batches survived, want %d", len(hs), tc.wantValid)
			}
			for i, h := range hs {
				if h.BaseOffset != tc.bases[i] {
					t.Fatalf("batch %d at %d, want %d", i, h.BaseOffset, tc.bases[i])
				}
				// Every offset inside a gap reads the next batch, as a consumer of a compacted
				// log expects.
				if i > 0 {
					for off := hs[i-1].LastOffset() + 1; off <= h.BaseOffset; off++ {
						r, _ := l.Read(off, 1, -1, true)
						if rh := batchesOf(t, r); len(rh) != 1 || rh[0].BaseOffset != h.BaseOffset {
							t.Fatalf("read %d: %+v, want the batch at %d", off, rh, h.BaseOffset)
						}
					}
				}
			}
		})
	}
}
