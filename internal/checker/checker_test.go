package checker

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// history is a synthetic run: n records on each of partitions 0..parts-1 of topic "t", value
// "v-<p>-<i>", acknowledged at offset i.
func history(parts, n int) []Record {
	var rs []Record
	for p := 0; p < parts; p++ {
		for i := 0; i < n; i++ {
			rs = append(rs, Record{Topic: "t", Partition: int32(p), Offset: int64(i),
				Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v-%d-%d", p, i)),
				Headers: []Header{{Key: "h", Value: []byte{byte(i)}}}})
		}
	}
	return rs
}

func clone(rs []Record) []Record {
	out := make([]Record, len(rs))
	for i, r := range rs {
		out[i] = r
		out[i].Key = append([]byte(nil), r.Key...)
		if r.Key == nil {
			out[i].Key = nil
		}
		out[i].Value = append([]byte(nil), r.Value...)
		if r.Value == nil {
			out[i].Value = nil
		}
		out[i].Headers = append([]Header(nil), r.Headers...)
	}
	return out
}

func unknownOffsets(rs []Record) []Record {
	out := clone(rs)
	for i := range out {
		out[i].Offset = -1
	}
	return out
}

func TestCheck(t *testing.T) {
	type counts map[Kind]int
	cases := []struct {
		name       string
		idempotent bool
		acked      []Record
		attempted  []Record
		read       func(acked []Record) []Record // from the acked history
		want       counts
		fails      bool
	}{
		{name: "clean", acked: history(3, 10), read: clone, want: counts{}},
		{name: "clean, offsets unknown (kafka-go, kcat)", acked: unknownOffsets(history(2, 10)),
			read: func([]Record) []Record { return history(2, 10) }, want: counts{}},
		{name: "clean, partitions and offsets unknown", acked: func() []Record {
			rs := unknownOffsets(history(2, 5))
			for i := range rs {
				rs[i].Partition = -1
			}
			return rs
		}(), read: func([]Record) []Record { return history(2, 5) }, want: counts{}},
		{name: "clean, same content written twice is expected twice", acked: []Record{
			{Topic: "t", Partition: 0, Offset: 0, Value: []byte("same")},
			{Topic: "t", Partition: 0, Offset: 1, Value: []byte("same")},
		}, read: clone, want: counts{}},
		{name: "clean, attempted write present", idempotent: true, acked: history(1, 3),
			attempted: []Record{{Topic: "t", Partition: 0, Offset: -1, Value: []byte("maybe")}},
			read: func(a []Record) []Record {
				return append(clone(a), Record{Topic: "t", Partition: 0, Offset: 3, Value: []byte("maybe")})
			}, want: counts{}},
		{name: "clean, attempted write missing", idempotent: true, acked: history(1, 3),
			attempted: []Record{{Topic: "t", Partition: 0, Offset: -1, Value: []byte("maybe")}},
			read:      clone, want: counts{}},
		{name: "clean, acked twice by the test at the same offset", acked: append(history(1, 3), history(1, 1)...),
			read: func([]Record) []Record { return history(1, 3) }, want: counts{}},

		{name: "lost", acked: history(3, 10), read: func(a []Record) []Record {
			r := clone(a)
			return append(r[:14], r[15:]...) // partition 1, offset 4
		}, want: counts{Lost: 1}, fails: true},
		{name: "lost, offsets unknown", acked: unknownOffsets(history(1, 10)), read: func([]Record) []Record {
			r := history(1, 10)
			return r[:9]
		}, want: counts{Lost: 1}, fails: true},
		{name: "lost tail of every partition", acked: history(3, 10), read: func(a []Record) []Record {
			var r []Record
			for _, x := range clone(a) {
				if x.Offset < 8 {
					r = append(r, x)
				}
			}
			return r
		}, want: counts{Lost: 6}, fails: true},

		{name: "duplicated, idempotent", idempotent: true, acked: history(2, 5), read: func(a []Record) []Record {
			r := clone(a)
			d := r[2]
			d.Offset = 5
			return append(r, d)
		}, want: counts{Duplicated: 1}, fails: true},
		{name: "duplicated, not idempotent: reported, allowed", acked: history(2, 5), read: func(a []Record) []Record {
			r := clone(a)
			d := r[2]
			d.Offset = 5
			return append(r, d)
		}, want: counts{Duplicated: 1}},
		{name: "attempted write read back twice, idempotent", idempotent: true, acked: history(1, 2),
			attempted: []Record{{Topic: "t", Partition: -1, Offset: -1, Value: []byte("maybe")}},
			read: func(a []Record) []Record {
				return append(clone(a),
					Record{Topic: "t", Partition: 0, Offset: 2, Value: []byte("maybe")},
					Record{Topic: "t", Partition: 0, Offset: 3, Value: []byte("maybe")})
			}, want: counts{Duplicated: 1}, fails: true},
		{name: "one offset served twice", idempotent: true, acked: history(1, 3), read: func(a []Record) []Record {
			r := clone(a)
			return append(r, r[1])
		}, want: counts{Duplicated: 1}, fails: true},

		{name: "reordered, offsets unknown", acked: unknownOffsets(history(1, 10)), read: func([]Record) []Record {
			r := history(1, 10)
			r[3].Offset, r[6].Offset = r[6].Offset, r[3].Offset
			return r
		}, want: counts{Reordered: 2}, fails: true},
		{name: "reordered, offsets known", acked: history(1, 4), read: func(a []Record) []Record {
			r := clone(a)
			r[1].Offset, r[2].Offset = 2, 1
			return r
		}, want: counts{Reordered: 1, Moved: 2}, fails: true},
		{name: "reordered across producers is per partition only", acked: unknownOffsets(append(history(1, 3), Record{Topic: "t", Partition: 1, Offset: -1, Value: []byte("other")})),
			read: func([]Record) []Record {
				return append(history(1, 3), Record{Topic: "t", Partition: 1, Offset: 0, Value: []byte("other")})
			}, want: counts{}},

		{name: "moved", acked: history(1, 3), read: func(a []Record) []Record {
			r := clone(a)
			r[2].Offset = 7
			return r
		}, want: counts{Moved: 1}, fails: true},

		{name: "corrupted value", acked: history(2, 5), read: func(a []Record) []Record {
			r := clone(a)
			r[7].Value[0] ^= 1
			return r
		}, want: counts{Corrupted: 1}, fails: true},
		{name: "corrupted key", acked: history(2, 5), read: func(a []Record) []Record {
			r := clone(a)
			r[3].Key = []byte("other")
			return r
		}, want: counts{Corrupted: 1}, fails: true},
		{name: "corrupted header", acked: history(2, 5), read: func(a []Record) []Record {
			r := clone(a)
			r[4].Headers = []Header{{Key: "h", Value: []byte("x")}}
			return r
		}, want: counts{Corrupted: 1}, fails: true},
		{name: "header dropped", acked: history(1, 2), read: func(a []Record) []Record {
			r := clone(a)
			r[1].Headers = nil
			return r
		}, want: counts{Corrupted: 1}, fails: true},
		{name: "null value read back as empty", acked: []Record{{Topic: "t", Partition: 0, Offset: 0, Key: []byte("k"), Value: nil}},
			read: func(a []Record) []Record {
				r := clone(a)
				r[0].Value = []byte{}
				return r
			}, want: counts{Corrupted: 1}, fails: true},
		{name: "corrupted where the write also surfaced elsewhere", acked: history(1, 3), read: func(a []Record) []Record {
			r := clone(a)
			moved := r[1]
			moved.Offset = 3
			r[1].Value = []byte("garbage")
			return append(r, moved)
		}, want: counts{Moved: 1, Corrupted: 1, Reordered: 1}, fails: true},

		{name: "offset reused: acknowledged twice for different data", acked: append(history(1, 3),
			Record{Topic: "t", Partition: 0, Offset: 2, Value: []byte("second at 2")}),
			read: func(a []Record) []Record {
				r := clone(a[:3])
				r[2] = Record{Topic: "t", Partition: 0, Offset: 2, Value: []byte("second at 2")}
				return r
			}, want: counts{OffsetReused: 1}, fails: true},
		{name: "offset reused: acknowledged twice, neither read back", acked: append(history(1, 3),
			Record{Topic: "t", Partition: 0, Offset: 2, Value: []byte("second at 2")}),
			read: func(a []Record) []Record { return clone(a[:2]) },
			want: counts{OffsetReused: 2}, fails: true},
		{name: "offset reused: acknowledged offset holds an unacknowledged write", acked: history(1, 3),
			attempted: []Record{{Topic: "t", Partition: 0, Offset: -1, Value: []byte("retry")}},
			read: func(a []Record) []Record {
				r := clone(a)
				r[1] = Record{Topic: "t", Partition: 0, Offset: 1, Value: []byte("retry")}
				return r
			}, want: counts{OffsetReused: 1}, fails: true},
		{name: "offset reused: one offset read back twice with different data", acked: history(1, 3),
			read: func(a []Record) []Record {
				r := clone(a)
				x := r[1]
				x.Value = []byte("imposter")
				return append(r, x)
			}, want: counts{OffsetReused: 1}, fails: true},
		{name: "offset reused, second ack moved away", acked: append(history(1, 3),
			Record{Topic: "t", Partition: 0, Offset: 1, Value: []byte("also at 1")}),
			read: func(a []Record) []Record {
				return append(clone(a[:3]), Record{Topic: "t", Partition: 0, Offset: 3, Value: []byte("also at 1")})
			}, want: counts{OffsetReused: 1, Moved: 1, Reordered: 1}, fails: true},

		{name: "unexpected record", acked: history(1, 3), read: func(a []Record) []Record {
			return append(clone(a), Record{Topic: "t", Partition: 0, Offset: 3, Value: []byte("phantom")})
		}, want: counts{Unexpected: 1}, fails: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := New(Options{Idempotent: tc.idempotent})
			for _, r := range tc.acked {
				h.Acked(r)
			}
			for _, r := range tc.attempted {
				h.Attempted(r)
			}
			rep := h.Check(tc.read(clone(tc.acked)))
			for _, k := range Kinds {
				if got := rep.Count(k); got != tc.want[k] {
					t.Errorf("%s: %d, want %d\n%s", k, got, tc.want[k], rep)
				}
			}
			if err := rep.Err(); (err != nil) != tc.fails {
				t.Errorf("Err() = %v, want failure %v", err, tc.fails)
			}
		})
	}
}

func TestReportString(t *testing.T) {
	acked := history(1, 20)
	h := New(Options{Examples: 3})
	for _, r := range acked {
		h.Acked(r)
	}
	rep := h.Check(clone(acked[:10]))
	s := rep.String()
	for _, want := range []string{"20 acked", "10 read back", "10 lost", `lost t-0@10: key "k10" value "v-0-10"`, "… 7 more lost"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "t-0@13") {
		t.Errorf("report shows more than 3 examples:\n%s", s)
	}
	if err := rep.Err(); err == nil || err.Error() != s {
		t.Errorf("Err() = %v, want the report", err)
	}
}

// The history keeps a bounded prefix of a large value, never the value.
func TestHistoryKeepsNoValue(t *testing.T) {
	h := New(Options{})
	big := []byte(strings.Repeat("x", 1<<20))
	h.Acked(Record{Topic: "t", Partition: 0, Offset: 0, Value: big})
	if n := len(h.acked[0].hint); n > 200 {
		t.Fatalf("history entry keeps %d bytes of a 1 MiB value", n)
	}
	big[500] = 'y' // a change past the hint still counts
	if err := h.Check([]Record{{Topic: "t", Partition: 0, Offset: 0, Value: big}}).Err(); err == nil {
		t.Fatal("a changed byte of a large value went unnoticed")
	}
}

func TestAckedConcurrent(t *testing.T) {
	h := New(Options{Idempotent: true})
	acked := history(4, 250)
	var wg sync.WaitGroup
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for _, r := range acked[p*250 : (p+1)*250] {
				h.Acked(r)
			}
		}(p)
	}
	wg.Wait()
	if err := h.Check(clone(acked)).Err(); err != nil {
		t.Fatal(err)
	}
}
