package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
)

const me = 1

func batch(values ...string) []byte {
	var body []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: int64(i), Value: []byte(v)}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		body = r.AppendTo(body)
	}
	b := kmsg.RecordBatch{Magic: 2, LastOffsetDelta: int32(len(values) - 1), FirstTimestamp: 1000, MaxTimestamp: 1000 + int64(len(values)) - 1,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(values)), Records: body}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

func newManager(t *testing.T, minISR int32) *Manager {
	t.Helper()
	logs, err := klog.OpenManager(klog.ManagerOptions{Dirs: []string{t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logs.Close() })
	m := NewManager(Options{BrokerID: me, Logs: logs, LogConfig: func(string) (klog.Config, int32, error) {
		return klog.DefaultConfig(), minISR, nil
	}})
	t.Cleanup(m.Shutdown)
	return m
}

var tp = klog.TopicPartition{Topic: "t", Partition: 0}

func lead(t *testing.T, m *Manager, epoch int32, isr, replicas []int32) {
	t.Helper()
	errs := m.BecomeLeaderOrFollower(1, []PartitionState{{Topic: "t", Partition: 0, Leader: me, LeaderEpoch: epoch, ISR: isr, Replicas: replicas}})
	if err := errs[tp]; err != nil {
		t.Fatal(err)
	}
}

func produce(t *testing.T, m *Manager, acks int16, values ...string) ProduceResult {
	t.Helper()
	return m.Produce(context.Background(), acks, 5*time.Second, map[klog.TopicPartition][]byte{tp: batch(values...)})[tp]
}

func fetchOne(m *Manager, offset int64, wait time.Duration) FetchResult {
	return m.Fetch(context.Background(), FetchParams{ReplicaID: -1, MaxWait: wait, MinBytes: 1, MaxBytes: 1 << 20,
		Partitions: []FetchPartition{{TP: tp, Offset: offset, MaxBytes: 1 << 20, CurrentLeaderEpoch: -1}}})[0]
}

func TestProduceFetchRoundTrip(t *testing.T) {
	m := newManager(t, 1)
	lead(t, m, 0, []int32{me}, []int32{me})
	if r := produce(t, m, -1, "a", "b"); r.Err != nil || r.BaseOffset != 0 {
		t.Fatalf("produce: %+v", r)
	}
	if r := produce(t, m, 1, "c"); r.Err != nil || r.BaseOffset != 2 {
		t.Fatalf("produce: %+v", r)
	}
	f := fetchOne(m, 0, 0)
	if f.Err != nil || f.HighWatermark != 3 || f.LogStartOffset != 0 {
		t.Fatalf("fetch: %+v", f)
	}
	hs, err := klog.ValidateBatches(f.Records, 0)
	if err != nil || len(hs) != 2 || hs[1].BaseOffset != 2 {
		t.Fatalf("fetched batches %+v %v", hs, err)
	}
}

// waitParked waits (polling the manager's own gauge, with a deadline) until n fetches are
// parked in a long poll.
func waitParked(t *testing.T, m *Manager, n float64) {
	t.Helper()
	parked := func() float64 {
		var v dto.Metric
		if err := m.stats.parkedFetches.Write(&v); err != nil {
			t.Fatal(err)
		}
		return v.GetGauge().GetValue()
	}
	for deadline := time.Now().Add(30 * time.Second); parked() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("parked fetches %v, want %v", parked(), n)
		}
		time.Sleep(time.Millisecond) // polling a gauge another goroutine moves
	}
}

// TestLongPollWokenByProduce: a fetch parked with nothing to read (proven by the parked-fetch
// gauge) and a MaxWait of an hour returns with the record as soon as it is produced: only the
// wake-up can have released it.
func TestLongPollWokenByProduce(t *testing.T) {
	m := newManager(t, 1)
	lead(t, m, 0, []int32{me}, []int32{me})
	got := make(chan FetchResult, 1)
	go func() { got <- fetchOne(m, 0, time.Hour) }()
	waitParked(t, m, 1)
	produce(t, m, -1, "wake")
	select {
	case r := <-got:
		if r.Err != nil || len(r.Records) == 0 {
			t.Fatalf("woken fetch: %+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the produce did not wake the parked fetch")
	}
	waitParked(t, m, 0)
	// With nothing produced, MaxWait expires with an empty answer.
	r := fetchOne(m, 1, 50*time.Millisecond)
	if r.Err != nil || len(r.Records) != 0 {
		t.Fatalf("expired fetch: %+v", r)
	}
}

func TestEpochsAndLeadership(t *testing.T) {
	m := newManager(t, 1)
	lead(t, m, 3, []int32{me}, []int32{me})
	if err := m.BecomeLeaderOrFollower(0, []PartitionState{{Topic: "t", Leader: me, LeaderEpoch: 9, Replicas: []int32{me}}})[tp]; !errors.Is(err, ErrStaleControllerEpoch) {
		t.Fatalf("stale controller: %v", err)
	}
	if err := m.BecomeLeaderOrFollower(1, []PartitionState{{Topic: "t", Leader: me, LeaderEpoch: 2, Replicas: []int32{me}}})[tp]; !errors.Is(err, ErrStaleControllerEpoch) {
		t.Fatalf("stale leader epoch: %v", err)
	}
	if err := m.BecomeLeaderOrFollower(1, []PartitionState{{Topic: "t", Leader: me, LeaderEpoch: 4, Replicas: []int32{2}}})[tp]; err == nil {
		t.Fatal("accepted a state whose replicas exclude this broker")
	}
	f := m.Fetch(context.Background(), FetchParams{ReplicaID: -1, Partitions: []FetchPartition{{TP: tp, MaxBytes: 100, CurrentLeaderEpoch: 2}}})[0]
	if !errors.Is(f.Err, ErrFencedLeaderEpoch) {
		t.Fatalf("old client epoch: %v", f.Err)
	}
	f = m.Fetch(context.Background(), FetchParams{ReplicaID: -1, Partitions: []FetchPartition{{TP: tp, MaxBytes: 100, CurrentLeaderEpoch: 7}}})[0]
	if !errors.Is(f.Err, ErrUnknownLeaderEpoch) {
		t.Fatalf("new client epoch: %v", f.Err)
	}
	// Becoming a follower: clients are refused.
	if err := m.BecomeLeaderOrFollower(2, []PartitionState{{Topic: "t", Leader: 2, LeaderEpoch: 5, ISR: []int32{2, me}, Replicas: []int32{2, me}}})[tp]; err != nil {
		t.Fatal(err)
	}
	if r := produce(t, m, 1, "x"); !errors.Is(r.Err, ErrNotLeaderOrFollower) {
		t.Fatalf("produce to follower: %v", r.Err)
	}
	other := klog.TopicPartition{Topic: "nope", Partition: 0}
	if r := m.Produce(context.Background(), 1, time.Second, map[klog.TopicPartition][]byte{other: batch("x")})[other]; !errors.Is(r.Err, ErrUnknownTopicOrPartition) {
		t.Fatalf("unknown partition: %v", r.Err)
	}
}

func TestAcksAllWaitsForISR(t *testing.T) {
	m := newManager(t, 2)
	lead(t, m, 0, []int32{me}, []int32{me, 2})
	if r := produce(t, m, -1, "x"); !errors.Is(r.Err, ErrNotEnoughReplicas) {
		t.Fatalf("ISR below min.insync.replicas: %v", r.Err)
	}
	lead(t, m, 1, []int32{me, 2}, []int32{me, 2})
	done := make(chan ProduceResult, 1)
	go func() { done <- produce(t, m, -1, "replicate me") }()
	// Wait for the append itself (the log end moves), then check the produce is still waiting:
	// nothing but the follower's fetch can move the high watermark, so this is no race.
	for deadline := time.Now().Add(30 * time.Second); m.o.Logs.Log(tp) == nil || m.o.Logs.Log(tp).LogEndOffset() != 1; {
		if time.Now().After(deadline) {
			t.Fatal("the acks=all produce never appended")
		}
		time.Sleep(time.Millisecond) // polling the log end another goroutine moves
	}
	notYet := func(when string) {
		select {
		case r := <-done:
			t.Fatalf("acks=all returned %s: %+v", when, r)
		default:
		}
	}
	notYet("before the follower fetched")
	follow := func(off int64) {
		r := m.Fetch(context.Background(), FetchParams{ReplicaID: 2, MaxBytes: 1 << 20, Partitions: []FetchPartition{{TP: tp, Offset: off, MaxBytes: 1 << 20, CurrentLeaderEpoch: -1, LastFetchedEpoch: -1}}})[0]
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	// The follower fetches from offset 0 (gets the record): it does not have it yet.
	follow(0)
	notYet("when the follower had only asked for the record")
	// Its next fetch, from 1, says it has it.
	follow(1)
	select {
	case r := <-done:
		if r.Err != nil || r.BaseOffset != 0 {
			t.Fatalf("acks=all after replication: %+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("acks=all produce not released by the follower's fetch")
	}
	// A consumer sees it only now that the high watermark moved.
	if f := fetchOne(m, 0, 0); len(f.Records) == 0 || f.HighWatermark != 1 {
		t.Fatalf("consumer after replication: %+v", f)
	}
}

func TestFetchMaxBytes(t *testing.T) {
	m := newManager(t, 1)
	lead(t, m, 0, []int32{me}, []int32{me})
	big := make([]string, 50)
	for i := range big {
		big[i] = string(make([]byte, 100))
	}
	produce(t, m, 1, big...)
	produce(t, m, 1, "small")
	f := m.Fetch(context.Background(), FetchParams{ReplicaID: -1, MaxBytes: 10, Partitions: []FetchPartition{{TP: tp, Offset: 0, MaxBytes: 10, CurrentLeaderEpoch: -1}}})[0]
	if hs, _ := klog.ValidateBatches(f.Records, 0); len(hs) != 1 || hs[0].NumRecords != 50 {
		t.Fatalf("first batch must come whole above the limits: %d bytes", len(f.Records))
	}
}

func TestListOffsetsAndDeleteRecords(t *testing.T) {
	m := newManager(t, 1)
	lead(t, m, 4, []int32{me}, []int32{me})
	produce(t, m, 1, "a", "b", "c")         // timestamps 1000..1002
	produce(t, m, 1, "d")                   // timestamp 1000
	lead(t, m, 6, []int32{me}, []int32{me}) // a new leader epoch starts at offset 4
	produce(t, m, 1, "e")                   // offset 4, timestamp 1000
	cases := []struct {
		ts, off, gotTs int64
		epoch          int32
	}{{-2, 0, -1, 4}, {-1, 5, -1, 6}, {-3, 2, 1002, 4}, {1001, 1, 1001, 4}, {5000, -1, -1, -1}}
	for _, c := range cases {
		off, ts, epoch, err := m.ListOffset(tp, c.ts, -1, false)
		if err != nil || off != c.off || ts != c.gotTs || epoch != c.epoch {
			t.Fatalf("ListOffset(%d) = %d %d epoch %d %v, want %d %d epoch %d", c.ts, off, ts, epoch, err, c.off, c.gotTs, c.epoch)
		}
	}
	if low, err := m.DeleteRecords(tp, 2); err != nil || low != 2 {
		t.Fatalf("delete records: %d %v", low, err)
	}
	if off, _, _, _ := m.ListOffset(tp, -2, -1, false); off != 2 {
		t.Fatalf("earliest after delete: %d", off)
	}
	if _, err := m.DeleteRecords(tp, 9); !errors.Is(err, klog.ErrOffsetOutOfRange) {
		t.Fatalf("delete beyond HW: %v", err)
	}
}

func TestStopReplicaDeletes(t *testing.T) {
	m := newManager(t, 1)
	lead(t, m, 0, []int32{me}, []int32{me})
	produce(t, m, 1, "a")
	dir := m.o.Logs.Log(tp).Dir()
	if err := m.StopReplicas([]klog.TopicPartition{tp}, true)[tp]; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("partition dir still there: %v", err)
	}
	if r := produce(t, m, 1, "x"); !errors.Is(r.Err, ErrUnknownTopicOrPartition) {
		t.Fatalf("produce after delete: %v", r.Err)
	}
}
