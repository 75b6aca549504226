package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

func smallConfig() Config {
	c := DefaultConfig()
	c.SegmentBytes = 4 << 10
	c.IndexIntervalBytes = 256
	return c
}

func newTestLog(t *testing.T, cfg Config) (*Manager, *Log) {
	t.Helper()
	m := openTestManager(t, t.TempDir(), cfg, nil)
	t.Cleanup(func() { m.Close() })
	l, err := m.GetOrCreateLog(TopicPartition{"t", 0}, cfg, [16]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	return m, l
}

// mustRead is Log.Read failing the test on an error: an error's nil bytes must never pass for
// "no data".
func mustRead(t *testing.T, l *Log, offset int64, maxBytes int32, maxOffset int64, minOneBatch bool) []byte {
	t.Helper()
	b, err := l.Read(offset, maxBytes, maxOffset, minOneBatch)
	if err != nil {
		t.Fatalf("read at %d (max %d bytes, below %d, min one batch %v): %v", offset, maxBytes, maxOffset, minOneBatch, err)
	}
	return b
}

// appendN appends n batches of per records each; it returns the batches as written.
func appendN(t *testing.T, l *Log, n, per, size int, ts int64) [][]byte {
	t.Helper()
	var out [][]byte
	for i := 0; i < n; i++ {
		b := simpleBatch(t, per, size, ts+int64(i*per))
		info, err := l.AppendAsLeader(b, 5)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if info.LastOffset-info.FirstOffset+1 != int64(per) {
			t.Fatalf("append %d: offsets %d..%d for %d records", i, info.FirstOffset, info.LastOffset, per)
		}
		out = append(out, b)
	}
	return out
}

func TestReadSpansSegmentsInOrder(t *testing.T) {
	_, l := newTestLog(t, smallConfig())
	appendN(t, l, 60, 3, 100, 1000) // ~ 25 segments of 4 KiB
	if l.NumSegments() < 5 {
		t.Fatalf("%d segments, want several", l.NumSegments())
	}
	if leo := l.LogEndOffset(); leo != 180 {
		t.Fatalf("LEO %d, want 180", leo)
	}
	for _, max := range []int32{100, 1000, 5000, 1 << 20} {
		next := int64(0)
		for next < 180 {
			b, err := l.Read(next, max, -1, true)
			if err != nil {
				t.Fatalf("read %d: %v", next, err)
			}
			hs := batchesOf(t, b)
			if len(hs) == 0 {
				t.Fatalf("read at %d with max %d returned nothing", next, max)
			}
			if max >= 1000 && len(b) > int(max) {
				t.Fatalf("read %d bytes, max %d", len(b), max)
			}
			for _, h := range hs {
				if h.BaseOffset != next || h.PartitionLeaderEpoch != 5 {
					t.Fatalf("batch at %d (epoch %d), want %d", h.BaseOffset, h.PartitionLeaderEpoch, next)
				}
				next = h.LastOffset() + 1
			}
		}
	}
	// A read from the middle of a batch starts with the batch holding the offset.
	b := mustRead(t, l, 4, 1<<20, -1, true)
	if h := batchesOf(t, b)[0]; h.BaseOffset != 3 {
		t.Fatalf("read at 4 starts at %d, want 3", h.BaseOffset)
	}
}

func TestReadBounds(t *testing.T) {
	_, l := newTestLog(t, smallConfig())
	appendN(t, l, 4, 2, 50, 1)
	if b, err := l.Read(8, 1000, -1, true); err != nil || len(b) != 0 {
		t.Fatalf("read at LEO: %d bytes, %v", len(b), err)
	}
	if _, err := l.Read(9, 1000, -1, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past LEO: %v", err)
	}
	if _, err := l.DeleteRecordsBefore(3); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Read(2, 1000, -1, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below log start: %v", err)
	}
	// maxOffset (the high watermark) hides batches at or past it.
	b := mustRead(t, l, 4, 1<<20, 6, true)
	if hs := batchesOf(t, b); len(hs) != 1 || hs[0].BaseOffset != 4 {
		t.Fatalf("read below HW 6: %+v", hs)
	}
	// minOneBatch returns a whole batch bigger than maxBytes; without it nothing.
	if b := mustRead(t, l, 4, 10, -1, true); len(batchesOf(t, b)) != 1 {
		t.Fatalf("min one batch: %d bytes", len(b))
	}
	if b := mustRead(t, l, 4, 10, -1, false); len(b) != 0 {
		t.Fatalf("without min one batch: %d bytes", len(b))
	}
}

func TestOffsetForTimestampAndMax(t *testing.T) {
	_, l := newTestLog(t, smallConfig())
	appendN(t, l, 40, 5, 60, 10_000) // timestamps 10000..10199, one per offset
	for _, ts := range []int64{0, 10_000, 10_003, 10_123, 10_199} {
		off, got, ok := l.OffsetForTimestamp(ts)
		want := ts - 10_000
		if want < 0 {
			want = 0
		}
		if !ok || off != want || got != 10_000+want {
			t.Fatalf("ts %d: offset %d ts %d ok %v, want %d", ts, off, got, ok, want)
		}
	}
	if _, _, ok := l.OffsetForTimestamp(10_200); ok {
		t.Fatal("found a record after the last timestamp")
	}
	if ts, off := l.MaxTimestamp(); ts != 10_199 || off != 199 {
		t.Fatalf("max timestamp %d at %d", ts, off)
	}
}

func TestTruncateToAndContinue(t *testing.T) {
	_, l := newTestLog(t, smallConfig())
	appendN(t, l, 30, 2, 100, 1)
	if err := l.TruncateTo(21); err != nil { // mid-batch: the batch 20..21 goes whole
		t.Fatal(err)
	}
	if leo := l.LogEndOffset(); leo != 20 {
		t.Fatalf("LEO after truncate %d, want 20", leo)
	}
	info, err := l.AppendAsLeader(simpleBatch(t, 2, 10, 99), 6)
	if err != nil || info.FirstOffset != 20 {
		t.Fatalf("append after truncate: %+v %v", info, err)
	}
	b := mustRead(t, l, 0, 1<<20, -1, true)
	next := int64(0)
	for _, h := range batchesOf(t, b) {
		if h.BaseOffset != next {
			t.Fatalf("gap at %d", next)
		}
		next = h.LastOffset() + 1
	}
	if err := l.TruncateTo(0); err != nil || l.LogEndOffset() != 0 || l.NumSegments() != 1 {
		t.Fatalf("truncate to 0: %v LEO %d", err, l.LogEndOffset())
	}
}

// A broker that became leader (epoch 2 at offset 3) and was deposed before appending keeps an
// epoch no other replica has; truncating at the log end must drop it, as Kafka's
// UnifiedLog.truncateTo does, or the follower names that epoch in every fetch forever.
func TestTruncateAtLogEndDropsEmptyEpochs(t *testing.T) {
	_, l := newTestLog(t, smallConfig())
	if _, err := l.AppendAsLeader(simpleBatch(t, 3, 10, 1), 1); err != nil {
		t.Fatal(err)
	}
	if err := l.AssignEpochStartOffset(2, 3); err != nil {
		t.Fatal(err)
	}
	if e := l.LatestEpoch(); e != 2 {
		t.Fatalf("latest epoch %d, want 2 before truncation", e)
	}
	for _, to := range []int64{3, 7} { // at and beyond the log end
		if err := l.TruncateTo(to); err != nil {
			t.Fatal(err)
		}
		if e := l.LatestEpoch(); e != 1 {
			t.Fatalf("TruncateTo(%d): latest epoch %d, want 1", to, e)
		}
		if leo := l.LogEndOffset(); leo != 3 {
			t.Fatalf("TruncateTo(%d): LEO %d, want 3", to, leo)
		}
	}
	data, err := os.ReadFile(filepath.Join(l.Dir(), leaderEpochFile))
	if err != nil || string(data) != "0\n1\n1 0\n" {
		t.Fatalf("leader-epoch-checkpoint = %q %v", data, err)
	}
}

func TestLeaderEpochCache(t *testing.T) {
	_, l := newTestLog(t, smallConfig())
	l.AppendAsLeader(simpleBatch(t, 3, 10, 1), 1)
	l.AppendAsLeader(simpleBatch(t, 2, 10, 1), 3)
	if e := l.LatestEpoch(); e != 3 {
		t.Fatalf("latest epoch %d", e)
	}
	if e, end := l.EndOffsetForEpoch(1); e != 1 || end != 3 {
		t.Fatalf("end offset for epoch 1: %d %d", e, end)
	}
	if e, end := l.EndOffsetForEpoch(2); e != 1 || end != 3 {
		t.Fatalf("end offset for epoch 2: %d %d", e, end)
	}
	if e, end := l.EndOffsetForEpoch(3); e != 3 || end != 5 {
		t.Fatalf("end offset for epoch 3: %d %d", e, end)
	}
	// The file follows the recovery point: written by the flush, not by the appends.
	path := filepath.Join(l.Dir(), leaderEpochFile)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("leader-epoch-checkpoint written before a flush: %v", err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "0\n2\n1 0\n3 3\n" {
		t.Fatalf("leader-epoch-checkpoint = %q %v", data, err)
	}
}

// TestLeaderEpochsAfterCrash: epochs assigned after the last flush are not in the checkpoint
// when the broker dies; recovery takes them back from the batches it re-reads, and an epoch with
// no batch is gone without changing any OffsetsForLeaderEpoch answer.
func TestLeaderEpochsAfterCrash(t *testing.T) {
	dir := t.TempDir()
	tp := TopicPartition{"t", 0}
	open := func(recoveryPoint int64) *Log {
		t.Helper()
		l, err := openLog(vfs.OS, filepath.Join(dir, "t-0"), tp, [16]byte{}, smallConfig(), recoveryPoint, 0, time.Now, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open(0)
	mustAppend := func(n int, epoch int32) {
		t.Helper()
		if _, err := l.AppendAsLeader(simpleBatch(t, n, 10, 1), epoch); err != nil {
			t.Fatal(err)
		}
	}
	mustAppend(3, 1)
	if err := l.Flush(); err != nil { // the checkpoint holds epoch 1 from here on
		t.Fatal(err)
	}
	rp := l.recoveryPointOffset()
	mustAppend(2, 4)                                                      // epoch 4 at offset 3, only in memory and in its batch
	if err := l.AssignEpochStartOffset(6, l.LogEndOffset()); err != nil { // epoch 6, no batch
		t.Fatal(err)
	}
	want := map[int32][2]int64{1: {1, 3}, 2: {1, 3}, 4: {4, 5}}
	ends := func(l *Log) map[int32][2]int64 {
		got := map[int32][2]int64{}
		for e := range want {
			ep, end := l.EndOffsetForEpoch(e)
			got[e] = [2]int64{int64(ep), end}
		}
		return got
	}
	if got := l.LatestEpoch(); got != 6 {
		t.Fatalf("latest epoch %d before the crash, want 6", got)
	}
	if got := ends(l); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("end offsets before the crash %v, want %v", got, want)
	}
	// The crash: no flush, no close; the files are as the page cache holds them.
	l2 := open(rp)
	defer l2.Close()
	if got := l2.LatestEpoch(); got != 4 {
		t.Fatalf("latest epoch after recovery %d, want 4 (from the batch at offset 3)", got)
	}
	if got := ends(l2); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("end offsets after recovery %v, want %v", got, want)
	}
	data, err := os.ReadFile(filepath.Join(dir, "t-0", leaderEpochFile))
	if err != nil || string(data) != "0\n2\n1 0\n4 3\n" {
		t.Fatalf("leader-epoch-checkpoint after recovery = %q %v", data, err)
	}
	l.mu.Lock()
	l.closeHandlesLocked()
	l.mu.Unlock()
}

func TestIdempotentAppend(t *testing.T) {
	_, l := newTestLog(t, DefaultConfig())
	mk := func(epoch int16, seq int32, n int) []byte {
		recs := make([]testRecord, n)
		for i := range recs {
			recs[i] = testRecord{value: []byte{byte(i)}, ts: 1}
		}
		return buildBatch(t, recs, batchOpts{pid: 7, epoch: epoch, seq: seq})
	}
	type step struct {
		epoch   int16
		seq     int32
		n       int
		want    error
		dup     bool
		dupFrom int64
	}
	steps := []step{
		{0, 0, 2, nil, false, 0},
		{0, 2, 3, nil, false, 0},
		{0, 0, 2, nil, true, 0}, // retry of the first batch
		{0, 2, 3, nil, true, 2}, // retry of the second
		{0, 9, 1, ErrOutOfOrderSequence, false, 0},
		{0, 5, 1, nil, false, 0},
		{1, 3, 1, ErrOutOfOrderSequence, false, 0}, // new epoch must start at 0
		{1, 0, 1, nil, false, 0},
		{0, 6, 1, ErrInvalidProducerEpoch, false, 0}, // fenced
	}
	for i, s := range steps {
		info, err := l.AppendAsLeader(mk(s.epoch, s.seq, s.n), 0)
		if !errors.Is(err, s.want) {
			t.Fatalf("step %d: error %v, want %v", i, err, s.want)
		}
		if err == nil && info.Duplicate != s.dup {
			t.Fatalf("step %d: duplicate %v, want %v", i, info.Duplicate, s.dup)
		}
		if s.dup && info.FirstOffset != s.dupFrom {
			t.Fatalf("step %d: duplicate answered offset %d, want %d", i, info.FirstOffset, s.dupFrom)
		}
	}
	if leo := l.LogEndOffset(); leo != 7 {
		t.Fatalf("LEO %d, want 7 (duplicates and rejects write nothing)", leo)
	}
	// An unknown producer may start at any sequence (its state may have been retained away).
	if _, err := l.AppendAsLeader(buildBatch(t, []testRecord{{value: []byte("x"), ts: 1}}, batchOpts{pid: 99, epoch: 0, seq: 40}), 0); err != nil {
		t.Fatalf("unknown producer: %v", err)
	}
}

func TestProducerStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	m := openTestManager(t, dir, cfg, nil)
	l, _ := m.GetOrCreateLog(TopicPartition{"p", 0}, cfg, [16]byte{})
	batch := func(seq int32) []byte {
		return buildBatch(t, []testRecord{{value: make([]byte, 300), ts: 1}}, batchOpts{pid: 3, epoch: 0, seq: seq})
	}
	for seq := int32(0); seq < 40; seq++ {
		if _, err := l.AppendAsLeader(batch(seq), 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, clean := range []bool{true, false} {
		if clean {
			m.Close()
		} // else: abandon without closing, as a crash would
		m = openTestManager(t, dir, cfg, nil)
		l = m.Log(TopicPartition{"p", 0})
		info, err := l.AppendAsLeader(batch(39), 0) // the last batch again
		if err != nil || !info.Duplicate || info.FirstOffset != 39 {
			t.Fatalf("clean=%v: retry of the last batch after restart: %+v %v", clean, info, err)
		}
		// The four before it too, though the snapshot keeps one batch per producer: a producer
		// retries up to five in-flight batches at a restarted leader.
		for seq := int32(35); seq < 39; seq++ {
			if info, err := l.AppendAsLeader(batch(seq), 0); err != nil || !info.Duplicate || info.FirstOffset != int64(seq) {
				t.Fatalf("clean=%v: retry of batch %d after restart: %+v %v", clean, seq, info, err)
			}
		}
		if _, err := l.AppendAsLeader(batch(34), 0); !errors.Is(err, ErrOutOfOrderSequence) {
			t.Fatalf("clean=%v: a batch older than the last five after restart: %v", clean, err)
		}
		if _, err := l.AppendAsLeader(batch(41), 0); !errors.Is(err, ErrOutOfOrderSequence) {
			t.Fatalf("clean=%v: gap after restart: %v", clean, err)
		}
	}
	m.Close()
}

func TestSnapshotRoundTrip(t *testing.T) {
	p := map[int64]*producerEntry{
		5:  {epoch: 2, coordinatorEpoch: -1, txnFirstOffset: -1, batches: []batchMeta{{0, 4, 10, 14, 99}, {5, 9, 20, 24, 100}}},
		-9: {epoch: 0, coordinatorEpoch: -1, txnFirstOffset: -1}, // no batches: not written
	}
	b := encodeSnapshot(p)
	if len(b) != snapshotHeader+4+snapshotEntrySize {
		t.Fatalf("snapshot is %d bytes", len(b))
	}
	got, err := decodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	e := got[5]
	if e == nil || e.epoch != 2 || len(e.batches) != 1 || e.batches[0] != (batchMeta{5, 9, 20, 24, 100}) {
		t.Fatalf("decoded %+v", e)
	}
	b[len(b)-1] ^= 1
	if _, err := decodeSnapshot(b); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("corrupt snapshot: %v", err)
	}
}

// FuzzDecodeSnapshot: whatever decodes re-encodes to a snapshot that decodes to the same state
// (producers without a data batch, which Kafka writes and Gregor does not, aside), and a
// snapshot already in Gregor's canonical form (ascending producer ids, every entry with data)
// re-encodes byte for byte.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(encodeSnapshot(map[int64]*producerEntry{1: {epoch: 1, batches: []batchMeta{{0, 1, 0, 1, 5}}}}))
	f.Add(encodeSnapshot(kafkaState))
	f.Add([]byte{0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		b := append([]byte(nil), in...)
		if len(b) >= snapshotHeader { // let the fuzzer past the CRC to the entries
			binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[snapshotHeader:], castagnoli))
		}
		p, err := decodeSnapshot(b)
		if err != nil {
			return
		}
		again, err := decodeSnapshot(encodeSnapshot(p))
		if err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		withData := map[int64]*producerEntry{}
		for id, e := range p {
			if len(e.batches) > 0 {
				withData[id] = e
			}
		}
		if !reflect.DeepEqual(again, withData) {
			t.Fatalf("round trip changed the state:\n%v\n%v", dumpState(withData), dumpState(again))
		}
		n := int(binary.BigEndian.Uint32(b[snapshotHeader:]))
		canonical := len(withData) == n
		for i := 1; canonical && i < n; i++ {
			prev := int64(binary.BigEndian.Uint64(b[snapshotHeader+4+(i-1)*snapshotEntrySize:]))
			cur := int64(binary.BigEndian.Uint64(b[snapshotHeader+4+i*snapshotEntrySize:]))
			canonical = prev < cur
		}
		if canonical && !bytes.Equal(encodeSnapshot(p), b) {
			t.Fatalf("canonical snapshot re-encoded differently:\n%x\n%x", b, encodeSnapshot(p))
		}
	})
}

func TestDeleteRecordsRemovesSegments(t *testing.T) {
	_, l := newTestLog(t, smallConfig())
	appendN(t, l, 40, 2, 100, 1)
	segs := l.NumSegments()
	start, err := l.DeleteRecordsBefore(50)
	if err != nil || start != 50 || l.LogStartOffset() != 50 {
		t.Fatalf("delete records: %d %v", start, err)
	}
	if l.NumSegments() >= segs {
		t.Fatalf("%d segments before, %d after", segs, l.NumSegments())
	}
	b, err := l.Read(50, 1<<20, -1, true)
	if err != nil || len(b) == 0 {
		t.Fatalf("read at new start: %v", err)
	}
	if _, err := l.DeleteRecordsBefore(81); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("delete past LEO: %v", err)
	}
	_ = time.Second
}

// TestAppendAsFollowerOffsets: a follower takes the leader's batches with their offsets; gaps
// (the leader's log is compacted) are accepted, offsets below the log end are not.
func TestAppendAsFollowerOffsets(t *testing.T) {
	_, l := newTestLog(t, smallConfig())
	at := func(base int64) []byte {
		b := simpleBatch(t, 2, 10, 1000)
		setBaseOffset(b, base)
		return b
	}
	for _, step := range []struct {
		base    int64
		wantErr bool
		wantLEO int64
	}{
		{0, false, 2}, {2, false, 4}, {10, false, 12}, {11, true, 12}, {5, true, 12}, {12, false, 14},
	} {
		_, err := l.AppendAsFollower(at(step.base))
		if (err != nil) != step.wantErr || l.LogEndOffset() != step.wantLEO {
			t.Fatalf("append at %d: err %v, LEO %d; want error=%v LEO %d", step.base, err, l.LogEndOffset(), step.wantErr, step.wantLEO)
		}
	}
}
