package api

import (
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestFetchLimits(t *testing.T) {
	h := newTestHandler(t, cacheWith(t, []int32{1}, nil), 1)
	for _, tc := range []struct {
		name               string
		maxBytes, minBytes int32
		waitMs             int32
		wantMax, wantMin   int32
		wantWait           time.Duration
	}{
		{"a client's usual fetch", 50 << 20, 1, 500, 50 << 20, 1, 500 * time.Millisecond},
		{"2 GB", math.MaxInt32, 1, 500, 55 << 20, 1, 500 * time.Millisecond},
		{"no limit (v < 3)", 0, 1, 0, 55 << 20, 1, 0},
		{"negative limit", -5, 1, 0, 55 << 20, 1, 0},
		{"min above max", 1000, 5000, 0, 1000, 1000, 0},
		{"negative min", 1000, -1, 0, 1000, 0, 0},
		{"a day of long poll", 1 << 20, 1, 86_400_000, 1 << 20, 1, 30 * time.Second},
		{"negative wait", 1 << 20, 1, -7, 1 << 20, 1, 0},
	} {
		gotMax, gotMin, gotWait := h.fetchLimits(tc.maxBytes, tc.minBytes, tc.waitMs)
		if gotMax != tc.wantMax || gotMin != tc.wantMin || gotWait != tc.wantWait {
			t.Errorf("%s: %d, %d, %v; want %d, %d, %v", tc.name, gotMax, gotMin, gotWait, tc.wantMax, tc.wantMin, tc.wantWait)
		}
	}
	if d := h.requestTimeout(math.MaxInt32); d != 30*time.Second {
		t.Errorf("request timeout of 2^31-1 ms: %v", d)
	}
	if d := h.requestTimeout(-1); d != 0 {
		t.Errorf("negative request timeout: %v", d)
	}
	if d := h.requestTimeout(1500); d != 1500*time.Millisecond {
		t.Errorf("request timeout 1500 ms: %v", d)
	}
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestPartitionCaps: CreateTopics and CreatePartitions asking for huge partition counts get
// INVALID_PARTITIONS (one topic over the per-topic cap) or POLICY_VIOLATION (a request over the
// per-request cap) without the broker allocating in proportion to the count.
func TestPartitionCaps(t *testing.T) {
	h := newTestHandler(t, cacheWith(t, []int32{1}, map[string]int{"t": 2, "u": 1}), 1)
	h.o.Controller = fakeController(true)
	createTopics := func(topics ...kmsg.CreateTopicsRequestTopic) []int16 {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Topics, req.TimeoutMillis = topics, 1000
		var codes []int16
		for _, rt := range handle[*kmsg.CreateTopicsResponse](t, h, request(req, 7)).Topics {
			codes = append(codes, rt.ErrorCode)
		}
		return codes
	}
	topic := func(name string, n int32) kmsg.CreateTopicsRequestTopic {
		return kmsg.CreateTopicsRequestTopic{Topic: name, NumPartitions: n, ReplicationFactor: 1}
	}
	var codes []int16
	if n := allocated(func() { codes = createTopics(topic("huge", math.MaxInt32)) }); n > 1<<20 {
		t.Errorf("CreateTopics with 2^31-1 partitions allocated %d bytes", n)
	}
	if codes[0] != kerr.InvalidPartitions.Code {
		t.Fatalf("2^31-1 partitions: code %d, want INVALID_PARTITIONS", codes[0])
	}
	codes = createTopics(topic("a", 4000), topic("b", 4000), topic("c", 4000), topic("huge", 20000))
	want := []int16{kerr.PolicyViolation.Code, kerr.PolicyViolation.Code, kerr.PolicyViolation.Code, kerr.InvalidPartitions.Code}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("request over the per-request cap: codes %v, want %v", codes, want)
		}
	}
	assigned := kmsg.CreateTopicsRequestTopic{Topic: "assigned", NumPartitions: -1, ReplicationFactor: -1}
	for p := int32(0); p <= 10000; p++ {
		assigned.ReplicaAssignment = append(assigned.ReplicaAssignment, kmsg.CreateTopicsRequestTopicReplicaAssignment{Partition: p, Replicas: []int32{1}})
	}
	if codes = createTopics(assigned); codes[0] != kerr.InvalidPartitions.Code {
		t.Fatalf("explicit assignment of 10001 partitions: code %d", codes[0])
	}

	createPartitions := func(topics ...kmsg.CreatePartitionsRequestTopic) []int16 {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.Topics, req.TimeoutMillis = topics, 1000
		var codes []int16
		for _, rt := range handle[*kmsg.CreatePartitionsResponse](t, h, request(req, 3)).Topics {
			codes = append(codes, rt.ErrorCode)
		}
		return codes
	}
	if n := allocated(func() { codes = createPartitions(kmsg.CreatePartitionsRequestTopic{Topic: "t", Count: math.MaxInt32}) }); n > 1<<20 {
		t.Errorf("CreatePartitions to 2^31-1 allocated %d bytes", n)
	}
	if codes[0] != kerr.InvalidPartitions.Code {
		t.Fatalf("CreatePartitions to 2^31-1: code %d", codes[0])
	}
	codes = createPartitions(kmsg.CreatePartitionsRequestTopic{Topic: "t", Count: 6000}, kmsg.CreatePartitionsRequestTopic{Topic: "u", Count: 6000})
	if codes[0] != kerr.PolicyViolation.Code || codes[1] != kerr.PolicyViolation.Code {
		t.Fatalf("CreatePartitions adding 12000: codes %v", codes)
	}
}
