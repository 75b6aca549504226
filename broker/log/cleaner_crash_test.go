package log

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// TestCleanerCrashRecovery: a crash (vfs.Faulty.CrashBefore: that operation and every later
// mutation never happen) at each step of cleaning — writing and fsyncing `.cleaned`, each
// `.cleaned` → `.swap` rename, each old segment's rename to `.deleted`, each `.swap` → live
// rename, the directory fsync — and a restart leave a valid log holding either the old segments
// or the cleaned one, never a mixture, never a loss; cleaning then finishes to the same result as
// a cleaning that was never interrupted.
func TestCleanerCrashRecovery(t *testing.T) {
	suffix := func(kind, suf string) func(vfs.Op) bool {
		return func(op vfs.Op) bool { return op.Kind == kind && strings.HasSuffix(op.Name, suf) }
	}
	renameTo := func(suf string) func(vfs.Op) bool {
		return func(op vfs.Op) bool { return op.Kind == "rename" && strings.HasSuffix(op.NewName, suf) }
	}
	for _, tc := range []struct {
		name  string
		match func(vfs.Op) bool
		nth   int    // crash at the nth matching operation (1-based)
		want  string // what the restarted log holds: "old" or "new" (single-group cases)
		multi bool   // several groups: the crash is in the second; a mixture of cleaned groups is expected
	}{
		{"creating .cleaned", suffix("create", ".log.cleaned"), 1, "old", false},
		{"first write of .cleaned", suffix("write", ".log.cleaned"), 1, "old", false},
		{"writing the cleaned time index", suffix("write", ".timeindex.cleaned"), 1, "old", false},
		{"writing the cleaned index", suffix("write", ".index.cleaned"), 1, "old", false},
		{"fsync of .cleaned", suffix("sync", ".log.cleaned"), 1, "old", false},
		{"rename .log.cleaned to .swap", suffix("rename", ".log.cleaned"), 1, "old", false},
		{"rename .index.cleaned to .swap", suffix("rename", ".index.cleaned"), 1, "old", false},
		{"rename .timeindex.cleaned to .swap", suffix("rename", ".timeindex.cleaned"), 1, "old", false},
		{"first old segment to .deleted", renameTo(deletedSuffix), 1, "new", false},
		{"fourth old file to .deleted", renameTo(deletedSuffix), 4, "new", false},
		{"last old file to .deleted", renameTo(deletedSuffix), -1, "new", false},
		{"rename .log.swap to live", suffix("rename", ".log.swap"), 1, "new", false},
		{"rename .index.swap to live", suffix("rename", ".index.swap"), 1, "new", false},
		{"rename .timeindex.swap to live", suffix("rename", ".timeindex.swap"), 1, "new", false},
		{"directory fsync after the swap", func(op vfs.Op) bool { return op.Kind == "syncdir" }, 1, "new", false},
		{"second group: rename .log.cleaned to .swap", suffix("rename", ".log.cleaned"), 2, "", true},
		{"second group: old segment to .deleted", renameTo(deletedSuffix), 4, "", true},
		{"second group: rename .log.swap to live", suffix("rename", ".log.swap"), 2, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := compactConfig()
			c := newCompactLog(t, cfg)
			rng := rand.New(rand.NewSource(11))
			// Every batch holds a key of its own, so every old segment keeps a record and a
			// cleaned group's last offset is its last old segment's.
			for b := 0; b < 40; b++ {
				recs := []testRecord{{key: []byte(fmt.Sprintf("anchor-%02d", b)), value: []byte("a"), ts: c.clk.t.UnixMilli()}}
				for i := 0; i < 5; i++ {
					k := fmt.Sprintf("key-%d", rng.Intn(8))
					c.clk.advance(time.Millisecond)
					recs = append(recs, testRecord{key: []byte(k), value: []byte(fmt.Sprintf("%s@%d%0150d", k, b, i)), ts: c.clk.t.UnixMilli()})
				}
				c.put(recs, batchOpts{codec: b % 5})
			}
			if err := c.m.Close(); err != nil {
				t.Fatal(err)
			}
			cleanCfg := cfg
			if !tc.multi {
				cleanCfg.SegmentBytes = 1 << 20 // one group: the swap is all or nothing
			}
			// The reference: the same log cleaned without a crash.
			refDir := t.TempDir()
			if err := os.CopyFS(refDir, os.DirFS(c.dir)); err != nil {
				t.Fatal(err)
			}
			ref := &compactLog{t: t, dir: refDir, clk: c.clk, cfg: cfg, all: c.all, latest: c.latest}
			ref.open(nil)
			ref.l.SetConfig(cleanCfg)
			oldRecs := recordSet(readLog(t, ref.l))
			if ref.cleanAll() == 0 {
				t.Fatal("reference: nothing cleaned")
			}
			ref.check(false)
			newRecs := recordSet(readLog(t, ref.l))
			if len(newRecs) >= len(oldRecs) {
				t.Fatalf("reference cleaning kept %d of %d records", len(newRecs), len(oldRecs))
			}
			if !tc.multi && ref.l.NumSegments() != 2 {
				t.Fatalf("reference: %d segments after cleaning, want one cleaned and the active", ref.l.NumSegments())
			}

			// The crash.
			fs := vfs.NewFaulty(vfs.OS)
			if tc.nth < 0 {
				// The last old file: count the renames to .deleted in the reference layout.
				tc.nth = 3 * (len(segmentBases(t, c.l.Dir())) - 1)
			}
			seen := 0
			match := tc.match
			fs.CrashBefore(func(op vfs.Op) bool {
				if match(op) {
					seen++
				}
				return seen == tc.nth
			})
			c.logger = silentLogger() // the injected faults are logged as errors
			c.open(fs)
			c.l.SetConfig(cleanCfg)
			for i := 0; i < 10 && !fs.Crashed(); i++ {
				c.m.cleaner.cleanOnce()
			}
			if !fs.Crashed() {
				t.Fatalf("the crash point was never reached (%d matching operations)", seen)
			}
			c.m.Close() // every mutation fails: the files stay as the crash left them

			// The restart.
			c.open(nil)
			for _, suf := range []string{cleanedSuffix, swapSuffix, deletedSuffix} {
				if left := filesWithSuffix(t, c.l.Dir(), suf); len(left) > 0 {
					t.Fatalf("%s files left after recovery: %v", suf, left)
				}
			}
			got := recordSet(readLog(t, c.l))
			switch tc.want {
			case "old":
				sameRecords(t, got, oldRecs, "the old segments")
			case "new":
				sameRecords(t, got, newRecs, "the cleaned segment")
			default:
				// Groups before the crash are cleaned, the rest are not: never a record the
				// cleaning would keep is lost, never one that was not there appears.
				for off, r := range newRecs {
					if g, ok := got[off]; !ok || g != r {
						t.Fatalf("record %d (%s) the cleaning keeps is missing after recovery", off, r)
					}
				}
				for off, r := range got {
					if o, ok := oldRecs[off]; !ok || o != r {
						t.Fatalf("record %d (%s) after recovery was not in the log", off, r)
					}
				}
			}
			c.check(false)
			// Cleaning resumes and ends where the uninterrupted one did; appends go on.
			c.l.SetConfig(cleanCfg)
			c.cleanAll()
			sameRecords(t, recordSet(readLog(t, c.l)), newRecs, "the reference cleaning")
			leo := c.l.LogEndOffset()
			info, err := c.l.AppendAsLeader(simpleBatch(t, 2, 10, c.clk.t.UnixMilli()), 3)
			if err != nil || info.FirstOffset != leo {
				t.Fatalf("append after recovery: %+v %v, want offset %d", info, err, leo)
			}
		})
	}
}

// recordSet is a log's records by offset, each as "key=value@timestamp" (plus headers).
func recordSet(_ []BatchHeader, recs []Record) map[int64]string {
	out := make(map[int64]string, len(recs))
	for _, r := range recs {
		s := fmt.Sprintf("%q=%q@%d", r.Key, r.Value, r.Timestamp)
		for _, h := range r.Headers {
			s += fmt.Sprintf(" %s:%q", h.Key, h.Value)
		}
		out[r.Offset] = s
	}
	return out
}

func sameRecords(t *testing.T, got, want map[int64]string, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, %s has %d", len(got), what, len(want))
	}
	for off, r := range want {
		if got[off] != r {
			t.Fatalf("record %d is %q, %s has %q", off, got[off], what, r)
		}
	}
}

// TestRecoverSwapFiles: openLog's handling of what an interrupted swap leaves, file by file, as
// Kafka's LogLoader: `.cleaned` files go; a `.swap` below every `.cleaned` file replaces the
// segments it covers; one at or above the lowest `.cleaned` file goes with it.
func TestRecoverSwapFiles(t *testing.T) {
	c := newCompactLog(t, compactConfig())
	c.updates(rand.New(rand.NewSource(12)), 400, 10, 5, batchOpts{})
	if err := c.m.Close(); err != nil {
		t.Fatal(err)
	}
	dir := c.l.Dir()
	bases := segmentBases(t, dir)
	if len(bases) < 4 {
		t.Fatalf("%d segments", len(bases))
	}
	before := recordSet(readLogDir(t, c))
	// A hand-made finished cleaning of segments 0 and 1: segment 0's bytes and segment 1's last
	// batch, as a `.swap` log. Recovery must delete segment 1 (it lies inside the swap's range)
	// and promote the swap.
	read := func(base int64) []byte {
		b, err := os.ReadFile(filepath.Join(dir, segmentName(base)+logSuffix))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	seg1 := read(bases[1])
	hs := batchesOf(t, seg1)
	lastPos := len(seg1) - hs[len(hs)-1].Size()
	swap := append(read(bases[0]), seg1[lastPos:]...)
	want := map[int64]string{}
	for off, r := range before {
		if off < bases[1] || off >= hs[len(hs)-1].BaseOffset {
			want[off] = r
		}
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(segmentName(bases[0])+logSuffix+swapSuffix, swap)
	// A swap that had not finished its first step (a `.cleaned` file at or below it) is rolled
	// back: segments 2 and 3 stay as they are.
	write(segmentName(bases[2])+logSuffix+cleanedSuffix, []byte("partial"))
	write(segmentName(bases[3])+logSuffix+swapSuffix, []byte("stale swap above a .cleaned file"))
	os.Remove(filepath.Join(c.dir, cleanShutdownFile))
	c.open(nil)
	got := recordSet(readLogDir(t, c))
	sameRecords(t, got, want, "the log with segments 0 and 1 swapped")
	if b := segmentBases(t, dir); len(b) != len(bases)-1 || b[0] != bases[0] || b[1] != bases[2] {
		t.Fatalf("segments %v after recovery, want %v without %d", b, bases, bases[1])
	}
	for _, suf := range []string{cleanedSuffix, swapSuffix} {
		if left := filesWithSuffix(t, dir, suf); len(left) > 0 {
			t.Fatalf("%s files left: %v", suf, left)
		}
	}
}

func readLogDir(t *testing.T, c *compactLog) ([]BatchHeader, []Record) {
	t.Helper()
	if c.m == nil || c.m.Log(c.l.tp) == nil || c.m.closed {
		m, err := OpenManager(ManagerOptions{Dirs: []string{c.dir}, Default: c.cfg, Now: c.clk.now, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		return readLog(t, m.Log(c.l.tp))
	}
	return readLog(t, c.l)
}
