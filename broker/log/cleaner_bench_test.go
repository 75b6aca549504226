package log

import (
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkCleaner measures the log cleaner's throughput — bytes of log cleaned per second, one
// full round (key map over the dirty section, recopy of every segment, fsync, swap) — beside the
// floor it is compared with: a plain read of the same segment files and a write of their bytes
// to new files, fsynced. Both run on copies of the same log in the same run. The log: ~32 MiB of
// 16-record batches, 100-byte values over 100000 keys (about 220000 records, so a little over
// half are superseded), uncompressed and zstd.
// Results: docs/benchmarks.md.
func BenchmarkCleaner(b *testing.B) {
	for _, codec := range []int{0, 4} {
		var once sync.Once
		var tmpl string
		var segFiles []string
		var cleanable, activeBase int64
		cfg := DefaultConfig()
		cfg.CleanupPolicy = PolicyCompact
		cfg.SegmentBytes = 8 << 20
		cfg.MinCleanableDirtyRatio = 0
		parent := b // the log outlives the sub-benchmarks' runs: it lives in the parent's TempDir
		setup := func(*testing.B) {
			once.Do(func() {
				tmpl, segFiles, cleanable, activeBase = benchCompactedLog(parent, cfg, codec)
			})
		}
		copyLog := func(b *testing.B) string {
			dir, err := os.MkdirTemp(b.TempDir(), "run")
			if err != nil {
				b.Fatal(err)
			}
			if err := os.CopyFS(dir, os.DirFS(tmpl)); err != nil {
				b.Fatal(err)
			}
			return dir
		}
		b.Run(fmt.Sprintf("cleaner/codec=%s", CodecName(codec)), func(b *testing.B) {
			setup(b)
			b.SetBytes(cleanable)
			var stats CleanerStats
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := copyLog(b)
				m, err := OpenManager(ManagerOptions{Dirs: []string{dir}, Default: cfg, Logger: quietLogger()})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				cpu0 := cpuTime()
				var cleaned bool
				if cleaned, stats, err = m.cleaner.cleanOnce(); err != nil || !cleaned {
					b.Fatalf("clean: %v %v", cleaned, err)
				}
				cpu += cpuTime() - cpu0
				b.StopTimer()
				if stats.EndOffset < activeBase {
					b.Fatalf("one round cleaned to %d, want the whole log (%d)", stats.EndOffset, activeBase)
				}
				m.Close()
				os.RemoveAll(dir)
				b.StartTimer()
			}
			b.ReportMetric(float64(stats.BytesWritten)/float64(stats.BytesRead), "kept/read")
			b.ReportMetric(float64(stats.RecordsRead), "records")
			b.ReportMetric(float64(cleanable)*float64(b.N)/1e6/cpu.Seconds(), "cpu-MB/s")
		})
		b.Run(fmt.Sprintf("plain-read-write/codec=%s", CodecName(codec)), func(b *testing.B) {
			setup(b)
			b.SetBytes(cleanable)
			buf := make([]byte, cleanerIOBuffer)
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := copyLog(b)
				b.StartTimer()
				cpu0 := cpuTime()
				for _, p := range segFiles {
					in, err := os.Open(filepath.Join(dir, "bench-0", filepath.Base(p)))
					if err != nil {
						b.Fatal(err)
					}
					out, err := os.Create(filepath.Join(dir, "bench-0", filepath.Base(p)+cleanedSuffix))
					if err != nil {
						b.Fatal(err)
					}
					for pos := int64(0); ; {
						n, err := in.ReadAt(buf, pos)
						if n > 0 {
							if _, err := out.Write(buf[:n]); err != nil {
								b.Fatal(err)
							}
							pos += int64(n)
						}
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					if err := out.Sync(); err != nil {
						b.Fatal(err)
					}
					in.Close()
					out.Close()
				}
				cpu += cpuTime() - cpu0
				b.StopTimer()
				os.RemoveAll(dir)
				b.StartTimer()
			}
			b.ReportMetric(float64(cleanable)*float64(b.N)/1e6/cpu.Seconds(), "cpu-MB/s")
		})
	}
}

// cpuTime is the process's user+system CPU time: on a shared machine, bytes per CPU second
// compares the cleaner with its floor where wall-clock MB/s depends on the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchCompactedLog writes the benchmark's log into a new directory and closes it; it returns
// the directory, the cleanable segment files, their total size and the active segment's base.
func benchCompactedLog(b *testing.B, cfg Config, codec int) (string, []string, int64, int64) {
	tmpl := b.TempDir()
	m, err := OpenManager(ManagerOptions{Dirs: []string{tmpl}, Default: cfg, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	l, _ := m.GetOrCreateLog(TopicPartition{"bench", 0}, cfg, [16]byte{})
	rng := rand.New(rand.NewSource(1))
	value := make([]byte, 100)
	for l.Size() < 32<<20 {
		recs := make([]testRecord, 16)
		for i := range recs {
			rng.Read(value[:50]) // half random, half repeated: compressible as real values are
			recs[i] = testRecord{key: []byte(fmt.Sprintf("key-%06d", rng.Intn(100000))), value: append([]byte(nil), value...), ts: 1_700_000_000_000}
		}
		if _, err := l.AppendAsLeader(buildBatch(b, recs, batchOpts{codec: codec}), 0); err != nil {
			b.Fatal(err)
		}
	}
	// One more segment, with one batch: the active one, never cleaned.
	roll := cfg
	roll.SegmentBytes = 1
	l.SetConfig(roll)
	if _, err := l.AppendAsLeader(simpleBatch(b, 1, 10, 1_700_000_000_000), 0); err != nil {
		b.Fatal(err)
	}
	l.SetHighWatermark(l.LogEndOffset())
	var files []string
	var size int64
	bases := segmentBasesOf(b, l.Dir())
	for _, base := range bases[:len(bases)-1] {
		p := filepath.Join(l.Dir(), segmentName(base)+logSuffix)
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		size += st.Size()
		files = append(files, p)
	}
	if err := m.Close(); err != nil {
		b.Fatal(err)
	}
	return tmpl, files, size, bases[len(bases)-1]
}

func segmentBasesOf(b *testing.B, dir string) []int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var out []int64
	for _, e := range entries {
		if base, ok := parseSegmentName(e.Name(), logSuffix); ok {
			out = append(out, base)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
