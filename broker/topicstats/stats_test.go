package topicstats

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// batch builds a magic-2 batch header claiming n records, padded to size bytes.
func batch(n int32, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b[8:12], uint32(size-12))
	b[16] = 2
	binary.BigEndian.PutUint32(b[57:61], uint32(n))
	return b
}

// legacy builds a magic-0/1 message entry of size bytes.
func legacy(size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b[8:12], uint32(size-12))
	b[16] = 1
	return b
}

func TestCountRecords(t *testing.T) {
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	cases := []struct {
		name string
		in   []byte
		want int64
	}{
		{"empty", nil, 0},
		{"one batch", batch(5, 100), 5},
		{"two batches", cat(batch(5, 100), batch(7, 80)), 12},
		{"truncated last batch", cat(batch(5, 100), batch(7, 80)[:50]), 5},
		{"legacy messages", cat(legacy(40), legacy(30)), 2},
		{"negative length", func() []byte { b := batch(3, 70); binary.BigEndian.PutUint32(b[8:12], 0xffffffff); return b }(), 0},
		{"batch shorter than its header", func() []byte { b := make([]byte, 30); binary.BigEndian.PutUint32(b[8:12], 18); b[16] = 2; return b }(), 0},
		{"negative count", batch(-4, 70), 0},
	}
	for _, tc := range cases {
		if got := CountRecords(tc.in); got != tc.want {
			t.Errorf("%s: %d records, want %d", tc.name, got, tc.want)
		}
	}
}

func FuzzCountRecords(f *testing.F) {
	f.Add(batch(5, 100))
	f.Add(append(legacy(40), batch(2, 61)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n := CountRecords(b); n < 0 || n > int64(len(b))*(1<<31) {
			t.Fatalf("%d records in %d bytes", n, len(b))
		}
	})
}

func TestCollectPerTopicAndAll(t *testing.T) {
	s := New()
	exists := map[string]bool{"a": true, "b": true}
	s.Known = func(topic string) bool { return exists[topic] }
	s.Produced("a", batch(3, 100))
	s.Produced("b", batch(4, 70))
	s.ProduceFailed("b")
	s.ProduceFailed("") // an unknown topic: counted in all topics only
	s.Fetched("a", batch(3, 100))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s)
	want := `
# HELP kafka_server_brokertopicmetrics_messagesin_total Records appended by producers on this broker as leader (Kafka's MessagesInPerSec); topic="" is all topics.
# TYPE kafka_server_brokertopicmetrics_messagesin_total counter
kafka_server_brokertopicmetrics_messagesin_total{topic=""} 7
kafka_server_brokertopicmetrics_messagesin_total{topic="a"} 3
kafka_server_brokertopicmetrics_messagesin_total{topic="b"} 4
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "kafka_server_brokertopicmetrics_messagesin_total"); err != nil {
		t.Fatal(err)
	}
	got := s.Total()
	if got.BytesIn != 170 || got.BytesOut != 100 || got.MessagesOut != 3 || got.ProduceRequests != 4 || got.FailedProduceRequests != 2 || got.FetchRequests != 1 {
		t.Fatalf("totals %+v", got)
	}
	// A deleted topic's series go; the all-topics totals stay.
	delete(exists, "b")
	if n := testutil.CollectAndCount(s, "kafka_server_brokertopicmetrics_messagesin_total"); n != 2 {
		t.Fatalf("%d messagesin series after deleting b, want 2 (all, a)", n)
	}
	if _, ok := s.Topics()["b"]; ok {
		t.Fatal("deleted topic b still counted")
	}
	// A topic not yet in the metadata cache keeps its counts until it is.
	s.Produced("c", batch(1, 70))
	testutil.CollectAndCount(s)
	exists["c"] = true
	if c := s.Topics()["c"]; c.MessagesIn != 1 {
		t.Fatalf("new topic c lost its count before the cache knew it: %+v", c)
	}
}

func TestNilStatsCountsNothing(t *testing.T) {
	var s *Stats
	s.Produced("a", batch(1, 70))
	s.Fetched("a", nil)
	s.ProduceFailed("a")
	s.FetchFailed("a")
	if s.Total() != (Counts{}) || len(s.Topics()) != 0 {
		t.Fatal("nil stats counted")
	}
}
