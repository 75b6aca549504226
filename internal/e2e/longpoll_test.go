package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestLongPollWokenByProduce: a Fetch at the log end with max_wait_ms 5000 returns as soon as a
// record is produced to that partition: its response holds the produced record and it came back
// well before the wait would have expired.
func TestLongPollWokenByProduce(t *testing.T) {
	const topic, maxWait = "longpoll", 5000
	c := testcluster.Start(t, testcluster.Options{Brokers: 1})
	adm := newAdmin(t, c.Bootstrap())
	createTopic(t, adm, topic, 1, nil)

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	// One record first so the fetch offset (1) is the log end, not offset 0.
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("first")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = maxWait
	req.MinBytes = 1
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition = 0
	fp.FetchOffset = 1
	fp.PartitionMaxBytes = 1 << 20
	fp.CurrentLeaderEpoch = -1
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)

	type result struct {
		resp *kmsg.FetchResponse
		err  error
		at   time.Time
	}
	got := make(chan result, 1)
	issued := time.Now()
	go func() {
		r, err := req.RequestWith(ctx, cl)
		got <- result{r, err, time.Now()}
	}()

	// The fetch must still be parked: nothing to return yet. Produce once that is observable
	// (no response within a short window), then the produce must wake it.
	select {
	case r := <-got:
		t.Fatalf("fetch returned before any record was produced: %+v %v", r.resp, r.err)
	case <-time.After(300 * time.Millisecond):
	}
	producedAt := time.Now()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("wake up")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-got:
	case <-time.After(maxWait * 2 * time.Millisecond):
		t.Fatal("fetch never returned")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	p := r.resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("fetch error: %v", err)
	}
	var recs []kmsg.Record
	for raw := p.RecordBatches; len(raw) > 0; {
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw); err != nil {
			t.Fatalf("decode batch: %v", err)
		}
		raw = raw[12+int(b.Length):]
		rs := b.Records
		for i := int32(0); i < b.NumRecords; i++ {
			var rec kmsg.Record
			if err := rec.ReadFrom(rs); err != nil {
				t.Fatal(err)
			}
			rs = rs[int(rec.Length)+varintLen(rec.Length):]
			recs = append(recs, rec)
		}
	}
	if len(recs) != 1 || string(recs[0].Value) != "wake up" {
		t.Fatalf("fetch returned %d records (%v), want the one produced", len(recs), recs)
	}
	if r.at.Before(producedAt) {
		t.Fatal("fetch answered before the produce; it did not wait")
	}
	if waited := r.at.Sub(issued); waited >= maxWait*time.Millisecond {
		t.Fatalf("fetch took %v: it ran out its max wait instead of being woken by the produce", waited)
	}
	t.Logf("fetch woke %v after the produce started", r.at.Sub(producedAt))
}

func varintLen(v int32) int {
	u := uint32((v << 1) ^ (v >> 31))
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
