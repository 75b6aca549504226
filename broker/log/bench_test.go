package log

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Benchmarks compare the engine with the floor it cannot beat: a plain os.File write of the same
// bytes, and a plain ReadAt of the same file. Sub-benchmarks are named impl=gregor / impl=floor
// so that benchstat -col /impl puts the two side by side with their ratio. Results and the
// commands that reproduce them: docs/benchmarks.md.

func benchBatch(b *testing.B, batchBytes int) []byte {
	n := batchBytes / 1024
	recs := make([]testRecord, n)
	for i := range recs {
		recs[i] = testRecord{key: []byte(fmt.Sprintf("key-%d", i)), value: make([]byte, 1000), ts: 1_700_000_000_000}
	}
	return buildBatch(b, recs, batchOpts{})
}

func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{16 << 10, 1 << 20} {
		batch := benchBatch(b, size)
		b.Run(fmt.Sprintf("impl=gregor/batch=%dKiB", size>>10), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.SegmentBytes = 512 << 20
			m := openTestManager(b, b.TempDir(), cfg, nil)
			defer m.Close()
			l, _ := m.GetOrCreateLog(TopicPartition{"bench", 0}, cfg, [16]byte{})
			b.SetBytes(int64(len(batch)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := l.AppendAsLeader(batch, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("impl=floor/batch=%dKiB", size>>10), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "plain.log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			b.SetBytes(int64(len(batch)))
			b.ResetTimer()
			written := int64(0)
			for i := 0; i < b.N; i++ {
				if _, err := f.Write(batch); err != nil {
					b.Fatal(err)
				}
				// Same segment size as the engine: start a new file when it would be exceeded.
				if written += int64(len(batch)); written > 512<<20 {
					f.Close()
					f, _ = os.Create(filepath.Join(b.TempDir(), fmt.Sprintf("plain-%d.log", i)))
					written = 0
				}
			}
		})
	}
}

func BenchmarkRead(b *testing.B) {
	const total = 128 << 20
	const chunk = 1 << 20
	batch := benchBatch(b, 16<<10)
	cfg := DefaultConfig()
	m := openTestManager(b, b.TempDir(), cfg, nil)
	defer m.Close()
	l, _ := m.GetOrCreateLog(TopicPartition{"bench", 0}, cfg, [16]byte{})
	for written := 0; written < total; written += len(batch) {
		if _, err := l.AppendAsLeader(batch, 0); err != nil {
			b.Fatal(err)
		}
	}
	leo := l.LogEndOffset()
	b.Run("impl=gregor/max=1MiB", func(b *testing.B) {
		b.SetBytes(chunk)
		off := int64(0)
		for i := 0; i < b.N; i++ {
			data, err := l.Read(off, chunk, -1, true)
			if err != nil {
				b.Fatal(err)
			}
			h, _ := ParseBatchHeader(data[len(data)-(len(batch)):])
			off = h.LastOffset() + 1
			if off >= leo {
				off = 0
			}
		}
	})
	b.Run("impl=floor/max=1MiB", func(b *testing.B) {
		f, err := os.Open(filepath.Join(l.Dir(), segmentName(0)+logSuffix))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		b.SetBytes(chunk)
		pos := int64(0)
		for i := 0; i < b.N; i++ {
			buf := make([]byte, chunk) // the engine returns a fresh buffer per read too
			if _, err := f.ReadAt(buf, pos); err != nil {
				b.Fatal(err)
			}
			if pos += chunk; pos+chunk > st.Size() {
				pos = 0
			}
		}
	})
}
