package log

import (
	"bytes"
	"testing"
	"time"
)

// TestRecordsMatchRead: for many offsets, limits and high watermarks, ReadRecords returns the
// whole batches Kafka's rule picks (from the batch holding the offset, below the high watermark,
// within max bytes, the first whole regardless with minOneBatch), across segment boundaries, and
// spans the offsets it claims.
func TestRecordsMatchRead(t *testing.T) {
	_, l := newTestLog(t, smallConfig())
	appendN(t, l, 60, 5, 40, 1000) // 300 records over several 4 KiB segments
	// The reference: every batch, from a read of everything (checked to be 60 batches of 5
	// consecutive offsets), and the rule applied to that list.
	all := mustRead(t, l, 0, 1<<30, -1, true)
	hs := batchesOf(t, all)
	if len(hs) != 60 {
		t.Fatalf("%d batches in the log, want 60", len(hs))
	}
	start := make([]int, len(hs)+1)
	for i, h := range hs {
		if h.BaseOffset != int64(5*i) || h.LastOffset() != int64(5*i+4) {
			t.Fatalf("batch %d: offsets %d..%d", i, h.BaseOffset, h.LastOffset())
		}
		start[i+1] = start[i] + h.Size()
	}
	expect := func(off int64, max int32, hw int64, minOne bool) []byte {
		i := int(off / 5)
		j := i
		for j < len(hs) && (hw < 0 || hs[j].LastOffset() < hw) && start[j+1]-start[i] <= int(max) {
			j++
		}
		if j == i && minOne && i < len(hs) && (hw < 0 || hs[i].LastOffset() < hw) {
			j = i + 1
		}
		return all[start[i]:start[j]]
	}
	for _, hw := range []int64{-1, 0, 3, 5, 150, 299, 300} {
		for off := int64(0); off < 300; off += 7 {
			for _, max := range []int32{0, 1, 100, 300, 1000, 5000, 1 << 20} {
				for _, minOne := range []bool{true, false} {
					want := expect(off, max, hw, minOne)
					recs, err := l.ReadRecords(off, max, hw, minOne)
					if err != nil {
						t.Fatal(err)
					}
					got, err := recs.AppendTo(nil)
					recs.Release()
					if err != nil || !bytes.Equal(got, want) {
						t.Fatalf("offset %d max %d hw %d min one %v: %d bytes, %v; want %d", off, max, hw, minOne, len(got), err, len(want))
					}
					if len(want) == 0 {
						continue
					}
					w := batchesOf(t, want)
					if recs.FirstOffset != w[0].BaseOffset || recs.NextOffset != w[len(w)-1].LastOffset()+1 {
						t.Fatalf("offset %d: span %d..%d, batches %d..%d", off, recs.FirstOffset, recs.NextOffset, w[0].BaseOffset, w[len(w)-1].LastOffset()+1)
					}
				}
			}
		}
	}
}

// TestRecordsOutliveDeletion: slices taken before their segments are deleted — by DeleteRecords
// and retention, by a truncation that removes whole segments, by closing the log — still read
// the bytes they were taken with, and the files close once the slices are released.
func TestRecordsOutliveDeletion(t *testing.T) {
	cases := map[string]func(t *testing.T, l *Log){
		"delete records": func(t *testing.T, l *Log) {
			if _, err := l.DeleteRecordsBefore(250); err != nil {
				t.Fatal(err)
			}
			l.removeExpiredDeletes(time.Now().Add(time.Hour))
		},
		"truncate everything": func(t *testing.T, l *Log) {
			if err := l.TruncateTo(0); err != nil {
				t.Fatal(err)
			}
			appendN(t, l, 10, 5, 40, 5000) // new bytes at the same offsets, in new files
		},
		"truncate later segments": func(t *testing.T, l *Log) {
			if err := l.TruncateTo(250); err != nil {
				t.Fatal(err)
			}
		},
		"close": func(t *testing.T, l *Log) {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, del := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := smallConfig()
			cfg.FileDeleteDelayMs = 0
			_, l := newTestLog(t, cfg)
			appendN(t, l, 60, 5, 40, 1000)
			want := mustRead(t, l, 10, 6000, -1, true)
			recs, err := l.ReadRecords(10, 6000, -1, true)
			if err != nil {
				t.Fatal(err)
			}
			if recs.Slices() < 2 {
				t.Fatalf("want a read across segments, got %d slice(s)", recs.Slices())
			}
			del(t, l)
			var files []*sharedFile
			for i := 0; i < recs.Slices(); i++ {
				s := recs.Slice(i)
				if !s.Intact() {
					t.Fatalf("slice %d reported truncated after a deletion", i)
				}
				files = append(files, s.f)
			}
			got, err := recs.AppendTo(nil)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("after %s: %d bytes, %v; want the %d bytes read before", name, len(got), err, len(want))
			}
			recs.Release()
			recs.Release() // a second release must not drop another reference
			l.bg.Wait()    // a rolled segment's background fsync holds its file until it is done
			for i, f := range files {
				if f.closed.Load() && f.refs.Load() != 0 {
					t.Fatalf("file %d: closed by its segment but %d references left", i, f.refs.Load())
				}
			}
		})
	}
}

// TestRecordsSeeTruncationInPlace: a slice of the active segment taken before a truncation that
// cuts into it reports itself not intact, so no sender passes the new bytes off as the old.
func TestRecordsSeeTruncationInPlace(t *testing.T) {
	cfg := smallConfig()
	cfg.SegmentBytes = 1 << 20 // one segment: truncation cuts it in place
	_, l := newTestLog(t, cfg)
	appendN(t, l, 20, 5, 40, 1000)
	recs, err := l.ReadRecords(50, 1<<20, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	defer recs.Release()
	if err := l.TruncateTo(60); err != nil {
		t.Fatal(err)
	}
	if recs.Slice(0).Intact() {
		t.Fatal("slice still intact after its segment was truncated in place")
	}
	if _, err := recs.AppendTo(nil); err == nil {
		t.Fatal("copying a truncated slice succeeded")
	}
	later, err := l.ReadRecords(50, 1<<20, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	defer later.Release()
	if !later.Slice(0).Intact() || later.Len() == 0 {
		t.Fatal("a slice taken after the truncation is not intact")
	}
}
