package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// compactConfig is a compacted log with small segments, cleaned whenever anything is dirty.
func compactConfig() Config {
	c := smallConfig()
	c.CleanupPolicy = PolicyCompact
	c.MinCleanableDirtyRatio = 0
	c.DeleteRetentionMs = 60_000
	return c
}

// compactLog is a compacted log under test and what the test appended to it: every record by
// offset, and each key's latest offset.
type compactLog struct {
	t      *testing.T
	dir    string
	m      *Manager
	l      *Log
	clk    *clock
	cfg    Config
	all    map[int64]testRecord
	latest map[string]int64
	logger logrus.FieldLogger // nil: quietLogger
}

func newCompactLog(t *testing.T, cfg Config) *compactLog {
	t.Helper()
	c := &compactLog{t: t, dir: t.TempDir(), clk: &clock{t: time.Unix(1_700_000_000, 0)}, cfg: cfg,
		all: map[int64]testRecord{}, latest: map[string]int64{}}
	c.open(nil)
	return c
}

// open (re)opens the manager on c.dir through fs (nil: the OS).
func (c *compactLog) open(fs vfs.FS) {
	c.t.Helper()
	logger := c.logger
	if logger == nil {
		logger = quietLogger()
	}
	m, err := OpenManager(ManagerOptions{Dirs: []string{c.dir}, Default: c.cfg, Now: c.clk.now, Logger: logger, FS: fs})
	if err != nil {
		c.t.Fatalf("open manager: %v", err)
	}
	c.m = m
	c.t.Cleanup(func() { m.Close() })
	if c.l = m.Log(TopicPartition{"compact", 0}); c.l == nil {
		if c.l, err = m.GetOrCreateLog(TopicPartition{"compact", 0}, c.cfg, [16]byte{}); err != nil {
			c.t.Fatal(err)
		}
	}
}

// put appends one batch of records (nil value: tombstone) and remembers them.
func (c *compactLog) put(recs []testRecord, o batchOpts) AppendInfo {
	c.t.Helper()
	info, err := c.l.AppendAsLeader(buildBatch(c.t, recs, o), 3)
	if err != nil {
		c.t.Fatalf("append: %v", err)
	}
	if info.Duplicate {
		return info
	}
	for i, r := range recs {
		off := info.FirstOffset + int64(i)
		c.all[off] = r
		c.latest[string(r.key)] = off
	}
	c.l.SetHighWatermark(c.l.LogEndOffset())
	return info
}

// updates appends n records over keys keys, per records a batch, values naming key and round.
func (c *compactLog) updates(rng *rand.Rand, n, keys, per int, o batchOpts) {
	c.t.Helper()
	for done := 0; done < n; {
		var recs []testRecord
		for i := 0; i < per && done < n; i++ {
			k := fmt.Sprintf("key-%03d", rng.Intn(keys))
			c.clk.advance(time.Millisecond)
			recs = append(recs, testRecord{key: []byte(k), value: []byte(fmt.Sprintf("%s=%d-%s", k, done, bytes.Repeat([]byte{'v'}, rng.Intn(40)))),
				ts: c.clk.t.UnixMilli(), headers: []kmsg.Header{kmsgHeader("n", fmt.Sprint(done))}})
			done++
		}
		c.put(recs, o)
		if o.pid > 0 {
			o.seq += int32(len(recs))
		}
	}
}

// cleanAll runs the cleaner until no log needs it; it returns the rounds run.
func (c *compactLog) cleanAll() int {
	c.t.Helper()
	for rounds := 0; rounds < 1000; rounds++ {
		cleaned, _, err := c.m.cleaner.cleanOnce()
		if err != nil {
			c.t.Fatalf("clean: %v", err)
		}
		if !cleaned {
			return rounds
		}
	}
	c.t.Fatal("the cleaner never ran out of work")
	return 0
}

// records reads and decodes the whole log.
func (c *compactLog) records() ([]BatchHeader, []Record) {
	c.t.Helper()
	return readLog(c.t, c.l)
}

func readLog(t *testing.T, l *Log) ([]BatchHeader, []Record) {
	t.Helper()
	var hs []BatchHeader
	var recs []Record
	next := l.LogStartOffset()
	for next < l.LogEndOffset() {
		b, err := l.Read(next, 1<<20, -1, true)
		if err != nil {
			t.Fatalf("read %d: %v", next, err)
		}
		if len(b) == 0 {
			break // the rest of the log below its end is a gap (compaction, or truncation into one)
		}
		for pos := 0; pos < len(b); {
			h, rs, err := DecodeRecords(b[pos:])
			if err != nil {
				t.Fatalf("decode batch at %d: %v", next, err)
			}
			if h.BaseOffset < next && len(hs) > 0 {
				t.Fatalf("batch at %d read again after %d", h.BaseOffset, next)
			}
			hs = append(hs, h)
			recs = append(recs, rs...)
			pos += h.Size()
			next = h.LastOffset() + 1
		}
	}
	return hs, recs
}

// check verifies the log against what was appended: offsets increase, every record is one the
// test appended at that offset (key, value, timestamp, headers), below the cleaner checkpoint
// each key appears once, at its latest offset, and every key's latest record is in the log
// unless it is a tombstone the cleaner may have removed (tombstonesGone: it must have).
func (c *compactLog) check(tombstonesGone bool) (cleanedTo int64) {
	c.t.Helper()
	hs, recs := c.records()
	cleanedTo, _ = c.m.cleaner.checkpoint(c.dir, c.l.tp)
	for i := 1; i < len(hs); i++ {
		if hs[i].BaseOffset <= hs[i-1].LastOffset() {
			c.t.Fatalf("batch %d at %d overlaps the one before (last %d)", i, hs[i].BaseOffset, hs[i-1].LastOffset())
		}
	}
	seen := map[string]int64{}
	for i, r := range recs {
		if i > 0 && r.Offset <= recs[i-1].Offset {
			c.t.Fatalf("offset %d after %d", r.Offset, recs[i-1].Offset)
		}
		want, ok := c.all[r.Offset]
		if !ok {
			c.t.Fatalf("record at %d was never appended", r.Offset)
		}
		if !bytes.Equal(r.Key, want.key) || !bytes.Equal(r.Value, want.value) || (r.Value == nil) != (want.value == nil) || r.Timestamp != want.ts {
			c.t.Fatalf("record at %d is %q=%q@%d, appended %q=%q@%d", r.Offset, r.Key, r.Value, r.Timestamp, want.key, want.value, want.ts)
		}
		if len(r.Headers) != len(want.headers) {
			c.t.Fatalf("record at %d has %d headers, appended %d", r.Offset, len(r.Headers), len(want.headers))
		}
		for j, h := range want.headers {
			if r.Headers[j].Key != h.Key || !bytes.Equal(r.Headers[j].Value, h.Value) {
				c.t.Fatalf("record at %d header %d is %v, appended %v", r.Offset, j, r.Headers[j], h)
			}
		}
		k := string(r.Key)
		if r.Offset < cleanedTo {
			if prev, dup := seen[k]; dup && prev < cleanedTo {
				c.t.Fatalf("key %s at %d and %d below the cleaned offset %d", k, prev, r.Offset, cleanedTo)
			}
			if r.Offset != c.latest[k] && !(c.latest[k] >= cleanedTo) {
				c.t.Fatalf("key %s kept at %d below the cleaned offset %d, its latest is %d", k, r.Offset, cleanedTo, c.latest[k])
			}
		}
		seen[k] = r.Offset
	}
	for k, off := range c.latest {
		got, ok := seen[k]
		tomb := c.all[off].value == nil
		switch {
		case tomb && tombstonesGone && off < cleanedTo:
			if ok {
				c.t.Fatalf("tombstoned key %s still in the log at %d", k, got)
			}
		case tomb && ok && got != off:
			c.t.Fatalf("tombstoned key %s: latest in the log at %d, want %d", k, got, off)
		case !tomb && got != off:
			c.t.Fatalf("key %s: latest in the log at %d (found %v), want %d", k, got, ok, off)
		}
	}
	return cleanedTo
}

// TestCleanerKeepsLatestPerKey: many updates per key, in every codec and batch shape; after
// cleaning, the cleaned section holds exactly the latest record of each key, with its offset,
// timestamp and headers, and the rest of the log is untouched.
func TestCleanerKeepsLatestPerKey(t *testing.T) {
	for _, codec := range []int{0, 1, 2, 3, 4} {
		for _, per := range []int{1, 7, 40} {
			t.Run(fmt.Sprintf("%s/%d-per-batch", CodecName(codec), per), func(t *testing.T) {
				rng := rand.New(rand.NewSource(int64(codec*100 + per)))
				c := newCompactLog(t, compactConfig())
				c.updates(rng, 1500, 60, per, batchOpts{codec: codec})
				before := c.l.Size()
				if c.cleanAll() == 0 {
					t.Fatal("the cleaner found nothing to clean")
				}
				cleanedTo := c.check(false)
				if active := c.activeBase(); cleanedTo != active {
					t.Fatalf("cleaned to %d, want the active segment's base %d", cleanedTo, active)
				}
				if after := c.l.Size(); after >= before/2 {
					t.Fatalf("log %d bytes after cleaning, %d before", after, before)
				}
				// Every batch kept its codec.
				hs, _ := c.records()
				for _, h := range hs {
					if h.Compression() != codec && h.NumRecords > 0 {
						t.Fatalf("batch at %d has codec %s, want %s", h.BaseOffset, CodecName(h.Compression()), CodecName(codec))
					}
				}
				// More updates, more rounds: still exact.
				c.updates(rng, 500, 60, per, batchOpts{codec: codec})
				c.cleanAll()
				c.check(false)
				// The cleaned segments' indexes on disk are Kafka's, and a restart reads the
				// cleaned segments back the same.
				active := c.activeBase()
				c.m.Close()
				checkSegmentFiles(t, c.l.Dir(), active)
				c.open(nil)
				c.check(false)
				for ts := c.all[0].ts - 1; ts < c.clk.t.UnixMilli(); ts += 97 {
					c.checkTimestampLookup(ts)
				}
			})
		}
	}
}

func (c *compactLog) activeBase() int64 {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	return c.l.active().base
}

// TestCleanerBounds: the cleaner never touches the active segment, records at or past the high
// watermark, or segments with records younger than min.compaction.lag.ms; max.compaction.lag.ms
// cleans a log whose dirty ratio is below min.cleanable.dirty.ratio.
func TestCleanerBounds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(c *compactLog) (limit int64) // returns the offset cleaning must stop at
	}{
		{"active segment", func(c *compactLog) int64 { return c.activeBase() }},
		{"high watermark", func(c *compactLog) int64 {
			hw := c.l.LogEndOffset() / 2
			c.l.SetHighWatermark(hw)
			segs := segmentBases(c.t, c.l.Dir())
			limit := segs[0]
			for _, b := range segs {
				if b <= hw {
					limit = b
				}
			}
			return limit
		}},
		{"min.compaction.lag.ms", func(c *compactLog) int64 {
			cfg := c.cfg
			cfg.MinCompactionLagMs = 60_000
			c.l.SetConfig(cfg)
			// The records span the last two seconds of the clock: all are younger than the lag.
			return c.l.LogStartOffset()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCompactLog(t, compactConfig())
			c.updates(rand.New(rand.NewSource(1)), 2000, 20, 5, batchOpts{})
			limit := tc.setup(c)
			c.cleanAll()
			cleanedTo, _ := c.m.cleaner.checkpoint(c.dir, c.l.tp)
			if cleanedTo > limit {
				t.Fatalf("cleaned to %d, past the limit %d", cleanedTo, limit)
			}
			_, recs := c.records()
			// Everything at or past the limit is exactly what was appended, every record.
			n := 0
			for _, r := range recs {
				if r.Offset >= limit {
					n++
				}
			}
			if want := int(c.l.LogEndOffset() - limit); n != want {
				t.Fatalf("%d records at or past %d, appended %d", n, limit, want)
			}
			c.check(false)
		})
	}
	t.Run("min.compaction.lag.ms passes", func(t *testing.T) {
		cfg := compactConfig()
		cfg.MinCompactionLagMs = 60_000
		c := newCompactLog(t, cfg)
		c.updates(rand.New(rand.NewSource(2)), 2000, 20, 5, batchOpts{})
		if c.cleanAll() != 0 {
			t.Fatal("cleaned records younger than min.compaction.lag.ms")
		}
		c.clk.advance(2 * time.Minute)
		if c.cleanAll() == 0 {
			t.Fatal("nothing cleaned once the lag passed")
		}
		if got := c.check(false); got != c.activeBase() {
			t.Fatalf("cleaned to %d, want %d", got, c.activeBase())
		}
	})
	t.Run("max.compaction.lag.ms", func(t *testing.T) {
		cfg := compactConfig()
		cfg.MinCleanableDirtyRatio = 1 // never reached by the ratio alone
		c := newCompactLog(t, cfg)
		c.updates(rand.New(rand.NewSource(3)), 2000, 20, 5, batchOpts{})
		if c.cleanAll() != 0 {
			t.Fatal("cleaned below min.cleanable.dirty.ratio")
		}
		cfg.MaxCompactionLagMs = 60_000
		c.l.SetConfig(cfg)
		c.clk.advance(2 * time.Minute)
		if c.cleanAll() == 0 {
			t.Fatal("max.compaction.lag.ms passed but nothing was cleaned")
		}
		c.check(false)
	})
}

// TestCleanerTombstones: a tombstone removes its key's earlier records at once and itself only
// after delete.retention.ms from the cleaning that first kept it (measured on the log's clock),
// while the rest of the key space is untouched.
func TestCleanerTombstones(t *testing.T) {
	for _, codec := range []int{0, 4} {
		t.Run(CodecName(codec), func(t *testing.T) {
			cfg := compactConfig()
			cfg.DeleteRetentionMs = 10 * 60_000
			c := newCompactLog(t, cfg)
			rng := rand.New(rand.NewSource(4))
			c.updates(rng, 1500, 30, 6, batchOpts{codec: codec})
			var dead []testRecord
			for k := 0; k < 30; k += 3 {
				c.clk.advance(time.Millisecond)
				dead = append(dead, testRecord{key: []byte(fmt.Sprintf("key-%03d", k)), ts: c.clk.t.UnixMilli()})
			}
			c.put(dead, batchOpts{codec: codec})
			c.filler(60) // push the tombstones out of the active segment
			c.cleanAll()
			c.check(false)
			_, recs := c.records()
			tombs := 0
			for _, r := range recs {
				if r.Value == nil {
					tombs++
				}
			}
			if tombs != len(dead) {
				t.Fatalf("%d tombstones after the first cleaning, want all %d kept", tombs, len(dead))
			}
			// Before the horizon, further rounds keep them.
			c.clk.advance(5 * time.Minute)
			c.filler(60)
			c.cleanAll()
			c.check(false)
			// After it, the next cleaning removes them; the keys are gone from the log.
			c.clk.advance(6 * time.Minute)
			c.filler(60)
			c.cleanAll()
			c.check(true)
			_, recs = c.records()
			for _, r := range recs {
				if r.Value == nil {
					t.Fatalf("tombstone for %s at %d survived delete.retention.ms", r.Key, r.Offset)
				}
			}
		})
	}
}

// filler appends n records with keys of their own, enough to roll a segment or two: new dirty
// data that makes the cleaner run again.
func (c *compactLog) filler(n int) {
	c.t.Helper()
	for i := 0; i < n; i++ {
		c.clk.advance(time.Millisecond)
		c.put([]testRecord{{key: []byte(fmt.Sprintf("filler-%d-%d", c.l.LogEndOffset(), i)), value: bytes.Repeat([]byte{'f'}, 150), ts: c.clk.t.UnixMilli()}}, batchOpts{})
	}
}

// TestCleanerKeepsProducerState: an idempotent producer's last batch survives cleaning even when
// every record in it is superseded (as an empty batch), so its next sequence is accepted and a
// retry of its last batch is still recognised as a duplicate — after a restart too.
func TestCleanerKeepsProducerState(t *testing.T) {
	c := newCompactLog(t, compactConfig())
	rng := rand.New(rand.NewSource(5))
	const pid = 4242
	o := batchOpts{pid: pid, epoch: 2, seq: 0}
	c.updates(rng, 200, 10, 4, o)
	// Another writer overwrites every key, so all of the producer's batches become removable...
	var over []testRecord
	for k := 0; k < 10; k++ {
		over = append(over, testRecord{key: []byte(fmt.Sprintf("key-%03d", k)), value: []byte("over"), ts: c.clk.t.UnixMilli()})
	}
	c.put(over, batchOpts{})
	// ...and its last batch: two keys that are then overwritten too.
	last := []testRecord{{key: []byte("key-000"), value: []byte("p-last-0"), ts: c.clk.t.UnixMilli()},
		{key: []byte("key-001"), value: []byte("p-last-1"), ts: c.clk.t.UnixMilli()}}
	lastOpts := batchOpts{pid: pid, epoch: 2, seq: 200}
	info := c.put(last, lastOpts)
	c.put([]testRecord{{key: []byte("key-000"), value: []byte("other-0"), ts: c.clk.t.UnixMilli()},
		{key: []byte("key-001"), value: []byte("other-1"), ts: c.clk.t.UnixMilli()}}, batchOpts{})
	c.filler(60)
	c.cleanAll()
	c.check(false)
	hs, _ := c.records()
	found := false
	for _, h := range hs {
		if h.ProducerID == pid {
			if h.LastOffset() != info.LastOffset {
				t.Fatalf("producer batch ending at %d kept; only its last (ending %d) should be", h.LastOffset(), info.LastOffset)
			}
			if h.NumRecords != 0 || h.BaseSequence != 200 || h.ProducerEpoch != 2 || h.BaseOffset != info.FirstOffset {
				t.Fatalf("producer's last batch kept as %+v, want empty with its sequence, epoch and offsets", h)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("the producer's last batch was removed")
	}
	for restart := 0; restart < 2; restart++ {
		// A retry of the last batch is a duplicate; the next sequence is accepted.
		dup, err := c.l.AppendAsLeader(buildBatch(t, last, lastOpts), 3)
		if err != nil || !dup.Duplicate || dup.FirstOffset != info.FirstOffset {
			t.Fatalf("restart %d: retry of the last batch: %+v %v", restart, dup, err)
		}
		c.m.Close()
		// Without the clean-shutdown marker and producer snapshots the state is rebuilt from
		// the cleaned log itself.
		os.Remove(filepath.Join(c.dir, cleanShutdownFile))
		snaps, _ := filepath.Glob(filepath.Join(c.l.Dir(), "*"+snapshotSuffix))
		for _, s := range snaps {
			os.Remove(s)
		}
		c.open(nil)
	}
	next, err := c.l.AppendAsLeader(buildBatch(t, []testRecord{{key: []byte("k"), value: []byte("v"), ts: 1}}, batchOpts{pid: pid, epoch: 2, seq: 202}), 3)
	if err != nil || next.Duplicate {
		t.Fatalf("next sequence after cleaning and restart: %+v %v", next, err)
	}
	if _, err := c.l.AppendAsLeader(buildBatch(t, []testRecord{{key: []byte("k"), value: []byte("v"), ts: 1}}, batchOpts{pid: pid, epoch: 2, seq: 500}), 3); err == nil {
		t.Fatal("out-of-sequence batch accepted after cleaning")
	}
}

// TestCleanerSmallDedupeBuffer: a key map too small for the dirty section cleans it over several
// rounds and still ends exact.
func TestCleanerSmallDedupeBuffer(t *testing.T) {
	c := newCompactLog(t, compactConfig())
	c.m.cleaner.cfg.DedupeBufferSize = 40 * offsetMapEntryBytes // room for 36 keys
	c.updates(rand.New(rand.NewSource(6)), 3000, 200, 5, batchOpts{})
	rounds := c.cleanAll()
	if rounds < 3 {
		t.Fatalf("%d rounds; a 36-key map over 200 keys needs several", rounds)
	}
	if got := c.check(false); got != c.activeBase() {
		t.Fatalf("cleaned to %d, want %d", got, c.activeBase())
	}
}

// TestCleanerStaysBounded: a few keys updated over and over (a unit-level stand-in for
// __consumer_offsets under a stream of commits): with cleaning between rounds of appends the log
// stays within a fixed bound instead of growing with the number of updates.
func TestCleanerStaysBounded(t *testing.T) {
	cfg := compactConfig()
	cfg.MinCleanableDirtyRatio = 0.5
	c := newCompactLog(t, cfg)
	rng := rand.New(rand.NewSource(7))
	var maxSize int64
	rounds, perRound := 60, 400
	if testing.Short() {
		rounds = 20
	}
	for round := 0; round < rounds; round++ {
		c.updates(rng, perRound, 25, 10, batchOpts{codec: round % 5})
		c.cleanAll()
		if round >= rounds/4 {
			maxSize = max(maxSize, c.l.Size())
		}
	}
	c.check(false)
	written := int64(0)
	for _, r := range c.all {
		written += int64(len(r.key) + len(r.value))
	}
	// 25 keys of ~70 bytes is under 2 KiB of live data; the dirty tail between cleanings is
	// one round at most, plus segments not yet merged. The log must not grow with the rounds.
	if bound := int64(16 * cfg.SegmentBytes); maxSize > bound {
		t.Fatalf("log reached %d bytes over %d rounds (%d bytes of records written), bound %d", maxSize, rounds, written, bound)
	}
	if segs := c.l.NumSegments(); segs > 16 {
		t.Fatalf("%d segments after %d rounds", segs, rounds)
	}
	t.Logf("%d records, %d bytes written; log peaked at %d bytes, ends at %d bytes in %d segments",
		len(c.all), written, maxSize, c.l.Size(), c.l.NumSegments())
}

// TestCleanerCheckpointFile: progress is in `cleaner-offset-checkpoint`, Kafka's offset
// checkpoint format; a truncation below it lowers it; a deleted log leaves it.
func TestCleanerCheckpointFile(t *testing.T) {
	c := newCompactLog(t, compactConfig())
	c.updates(rand.New(rand.NewSource(8)), 1000, 20, 5, batchOpts{})
	c.cleanAll()
	want := c.activeBase()
	data, err := os.ReadFile(filepath.Join(c.dir, cleanerCheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if exp := fmt.Sprintf("0\n1\ncompact 0 %d\n", want); string(data) != exp {
		t.Fatalf("checkpoint file %q, want %q", data, exp)
	}
	// Reopened, the cleaner starts where it stopped: nothing to do.
	c.m.Close()
	c.open(nil)
	if got, _ := c.m.cleaner.checkpoint(c.dir, c.l.tp); got != want {
		t.Fatalf("checkpoint after restart %d, want %d", got, want)
	}
	if n := c.cleanAll(); n != 0 {
		t.Fatalf("%d rounds after a restart with nothing new", n)
	}
	// Truncation into the cleaned section lowers the checkpoint at the next look.
	cut := want / 2
	if err := c.l.TruncateTo(cut); err != nil {
		t.Fatal(err)
	}
	for off := range c.all {
		if off >= c.l.LogEndOffset() {
			delete(c.all, off)
		}
	}
	c.latest = map[string]int64{}
	_, recs := c.records()
	for _, r := range recs {
		c.latest[string(r.Key)] = r.Offset
	}
	c.updates(rand.New(rand.NewSource(9)), 1000, 20, 5, batchOpts{})
	c.cleanAll()
	c.check(false)
	if err := c.m.DeleteLog(c.l.tp); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(filepath.Join(c.dir, cleanerCheckpointFile))
	if string(data) != "0\n0\n" {
		t.Fatalf("checkpoint after the log was deleted: %q", data)
	}
}

// FuzzCleanerRecords: the cleaner's record parser (parseRawRecord, through recordCodec.records)
// never panics on a stored batch, agrees with DecodeRecords on what it accepts, and a batch
// rebuilt from a subset of the records (buildBatch, re-compressed with the batch's codec) decodes
// to exactly that subset with the original header fields.
func FuzzCleanerRecords(f *testing.F) {
	recs := []testRecord{{key: []byte("k"), value: []byte("v"), ts: 3, headers: []kmsg.Header{kmsgHeader("h", "x")}},
		{key: []byte("k2"), ts: 9}, {value: []byte("no key"), ts: 4}}
	for codec := 0; codec <= 4; codec++ {
		f.Add(buildBatch(f, recs, batchOpts{codec: codec, pid: 7, epoch: 1, seq: 5}))
	}
	var codec recordCodec
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= batchHeaderSize {
			binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
		}
		h, err := validateOne(b, 0, false)
		if err != nil {
			return
		}
		raw, err := codec.records(b, h, nil)
		_, want, derr := DecodeRecords(b)
		if err != nil {
			return // the cleaner is stricter (record offsets inside the batch); never looser
		}
		if derr != nil || len(want) != len(raw) {
			t.Fatalf("cleaner parsed %d records, DecodeRecords %d (%v)", len(raw), len(want), derr)
		}
		if len(raw) == 0 {
			return
		}
		keep := append([]rawRecord(nil), raw[len(raw)/2:]...)
		out, nh, err := codec.buildBatch(nil, h, keep, 0, false)
		if err != nil {
			t.Fatalf("rebuild: %v", err)
		}
		gh, got, err := DecodeRecords(out)
		if err != nil {
			t.Fatalf("rebuilt batch does not decode: %v", err)
		}
		if gh.BaseOffset != h.BaseOffset || gh.LastOffsetDelta != h.LastOffsetDelta || gh.ProducerID != h.ProducerID ||
			gh.BaseSequence != h.BaseSequence || gh.Compression() != h.Compression() || gh.NumRecords != int32(len(keep)) || gh != nh {
			t.Fatalf("rebuilt header %+v from %+v", gh, h)
		}
		for i, r := range got {
			w := want[len(raw)/2+i]
			if r.Offset != w.Offset || r.Timestamp != w.Timestamp || !bytes.Equal(r.Key, w.Key) || (r.Key == nil) != (w.Key == nil) ||
				!bytes.Equal(r.Value, w.Value) || (r.Value == nil) != (w.Value == nil) || len(r.Headers) != len(w.Headers) {
				t.Fatalf("rebuilt record %d: %+v, was %+v", i, r, w)
			}
		}
	})
}

// TestCleanerAbortOnDelete: deleting a log that is being cleaned stops the cleaning (at its next
// check) and waits for it, so no cleaner file appears in the log's directory afterwards and no
// checkpoint survives the log.
func TestCleanerAbortOnDelete(t *testing.T) {
	c := newCompactLog(t, compactConfig())
	c.updates(rand.New(rand.NewSource(13)), 2000, 50, 5, batchOpts{})
	job := c.m.cleaner.grabFilthiest()
	if job == nil {
		t.Fatal("nothing to clean")
	}
	deleted := make(chan error, 1)
	go func() { deleted <- c.m.DeleteLog(c.l.tp) }()
	deadline := time.Now().Add(10 * time.Second)
	for !job.abort.Load() {
		if time.Now().After(deadline) {
			t.Fatal("DeleteLog never asked the cleaning to stop")
		}
		time.Sleep(time.Millisecond) // polling the flag above, with its deadline
	}
	select {
	case err := <-deleted:
		t.Fatalf("DeleteLog returned (%v) while the cleaning was still running", err)
	default:
	}
	th := c.m.cleaner.newThread(nil)
	if _, err := th.clean(job); err != errCleaningAborted {
		t.Fatalf("clean of a log being deleted: %v, want an abort", err)
	}
	c.m.cleaner.doneCleaning(job, job.rng.firstDirty, nil)
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	if _, ok := c.m.cleaner.checkpoint(c.dir, c.l.tp); ok {
		t.Fatal("checkpoint kept for a deleted log")
	}
	if cleaned, _, err := c.m.cleaner.cleanOnce(); cleaned || err != nil {
		t.Fatalf("cleaned a deleted log: %v %v", cleaned, err)
	}
}

// TestCompactedLogRollsByMaxCompactionLag: on a compacted log a segment rolls once its records
// span max.compaction.lag.ms, even with a longer segment.ms, so no record waits in the
// uncleanable active segment longer than the lag (Kafka's maxSegmentMs); a delete-only log
// ignores the setting.
func TestCompactedLogRollsByMaxCompactionLag(t *testing.T) {
	for _, tc := range []struct {
		policy   string
		wantRoll bool
	}{{PolicyCompact, true}, {PolicyCompactDelete, true}, {PolicyDelete, false}} {
		t.Run(tc.policy, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.CleanupPolicy = tc.policy
			cfg.MaxCompactionLagMs = 1000
			_, l := newTestLog(t, cfg)
			for i := 0; i < 4; i++ {
				b := buildBatch(t, []testRecord{{key: []byte("k"), value: []byte("v"), ts: 1_000_000 + int64(i)*600}}, batchOpts{})
				if _, err := l.AppendAsLeader(b, 0); err != nil {
					t.Fatal(err)
				}
			}
			if rolled := l.NumSegments() > 1; rolled != tc.wantRoll {
				t.Fatalf("%d segments over 1800 ms of records, max.compaction.lag.ms 1000", l.NumSegments())
			}
		})
	}
}

// TestCompactedLogRejectsKeylessRecords: a produced batch holding a record without a key is
// refused on a compacted log (Kafka's INVALID_RECORD), in every codec, and accepted on a
// delete-only one; keyed batches go through on both.
func TestCompactedLogRejectsKeylessRecords(t *testing.T) {
	keyed := []testRecord{{key: []byte("a"), value: []byte("1"), ts: 5}, {key: []byte("b"), ts: 6}}
	keyless := []testRecord{{key: []byte("a"), value: []byte("1"), ts: 5}, {value: []byte("no key"), ts: 6}}
	for _, policy := range []string{PolicyCompact, PolicyCompactDelete, PolicyDelete} {
		for codec := 0; codec <= 4; codec++ {
			t.Run(fmt.Sprintf("%s/%s", policy, CodecName(codec)), func(t *testing.T) {
				cfg := smallConfig()
				cfg.CleanupPolicy = policy
				_, l := newTestLog(t, cfg)
				if _, err := l.AppendAsLeader(buildBatch(t, keyed, batchOpts{codec: codec}), 0); err != nil {
					t.Fatalf("keyed batch: %v", err)
				}
				set := append(buildBatch(t, keyed, batchOpts{codec: codec}), buildBatch(t, keyless, batchOpts{codec: codec})...)
				_, err := l.AppendAsLeader(set, 0)
				var be *BatchError
				switch {
				case policy == PolicyDelete && err != nil:
					t.Fatalf("keyless record refused on a delete-only log: %v", err)
				case policy != PolicyDelete && (!errors.Is(err, ErrInvalidRecord) || !errors.As(err, &be) || be.Index != 1):
					t.Fatalf("keyless record on a compacted log: %v, want INVALID_RECORD naming batch 1", err)
				}
				if want := map[bool]int64{true: 6, false: 2}[policy == PolicyDelete]; l.LogEndOffset() != want {
					t.Fatalf("LEO %d, want %d (a refused set writes nothing)", l.LogEndOffset(), want)
				}
			})
		}
	}
}

// checkSegmentFiles verifies every segment's `.index` and `.timeindex` on disk against its
// `.log`, Kafka's rules: each offset index entry is (last offset of a batch - base, that batch's
// position), entries strictly increasing; each time index entry is (the largest batch max
// timestamp so far, the last offset of the batch holding it - base), timestamps strictly
// increasing, and the last entry of a sealed segment carries its largest timestamp.
func checkSegmentFiles(t *testing.T, dir string, sealedBelow int64) {
	t.Helper()
	for _, base := range segmentBases(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, segmentName(base)+logSuffix))
		if err != nil {
			t.Fatal(err)
		}
		type at struct{ pos, last, maxTs int64 }
		byPos := map[int64]at{}
		var batches []at
		maxSoFar, offOfMax := int64(-1), int64(-1)
		for pos := 0; pos < len(data); {
			h, err := validateOne(data[pos:], 0, false)
			if err != nil {
				t.Fatalf("segment %d at %d: %v", base, pos, err)
			}
			if h.MaxTimestamp > maxSoFar {
				maxSoFar, offOfMax = h.MaxTimestamp, h.LastOffset()
			}
			a := at{int64(pos), h.LastOffset(), maxSoFar}
			byPos[a.pos] = a
			batches = append(batches, a)
			pos += h.Size()
		}
		idx, _ := os.ReadFile(filepath.Join(dir, segmentName(base)+indexSuffix))
		if len(idx)%offsetEntrySize != 0 {
			t.Fatalf("segment %d: index of %d bytes", base, len(idx))
		}
		lastRel := int64(-1)
		for i := 0; i < len(idx); i += offsetEntrySize {
			rel, pos := int64(binary.BigEndian.Uint32(idx[i:])), int64(binary.BigEndian.Uint32(idx[i+4:]))
			b, ok := byPos[pos]
			if !ok || b.last != base+rel || rel <= lastRel {
				t.Fatalf("segment %d: index entry %d (%d, %d) does not name a batch's last offset and position", base, i/8, rel, pos)
			}
			lastRel = rel
		}
		tidx, _ := os.ReadFile(filepath.Join(dir, segmentName(base)+timeIndexSuffix))
		if len(tidx)%timeEntrySize != 0 {
			t.Fatalf("segment %d: time index of %d bytes", base, len(tidx))
		}
		lastTs := int64(-1 << 63)
		for i := 0; i < len(tidx); i += timeEntrySize {
			ts, rel := int64(binary.BigEndian.Uint64(tidx[i:])), int64(binary.BigEndian.Uint32(tidx[i+8:]))
			found := false
			for _, b := range batches {
				if b.last == base+rel && b.maxTs == ts {
					found = true
				}
			}
			if !found || ts <= lastTs {
				t.Fatalf("segment %d: time index entry %d (%d, %d) is not a running maximum at a batch", base, i/12, ts, rel)
			}
			lastTs = ts
		}
		if base < sealedBelow && len(batches) > 0 && (len(tidx) == 0 || lastTs != maxSoFar) {
			t.Fatalf("segment %d: sealed, but its time index ends at %d, not its max timestamp %d (offset %d)", base, lastTs, maxSoFar, offOfMax)
		}
	}
}

// checkTimestampLookup compares OffsetForTimestamp with a scan of the log: the first record with
// a timestamp at or after ts.
func (c *compactLog) checkTimestampLookup(ts int64) {
	c.t.Helper()
	_, recs := c.records()
	want := int64(-1)
	for _, r := range recs {
		if r.Timestamp >= ts {
			want = r.Offset
			break
		}
	}
	got, _, ok := c.l.OffsetForTimestamp(ts)
	if (want >= 0) != ok || ok && got != want {
		c.t.Fatalf("OffsetForTimestamp(%d) = %d (%v), a scan finds %d", ts, got, ok, want)
	}
}
