package e2e

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestLongPollWokenByProduce: a Fetch at the log end, proven parked in the broker's long poll
// (its gregor_replica_parked_fetches gauge, read from /metrics), is woken by a produce to the
// partition and returns the produced record. Its max wait (2 min) is longer than the test waits
// for the answer (1 min), so an answer at all means the produce woke it: no clock is read. The
// broker's own cap on a fetch's wait (gregor.fetch.wait.max.ms, 30 s by default) is raised above
// that max wait, or a fetch the produce never woke would still answer in time (a by-hand mutation
// check found exactly that).
func TestLongPollWokenByProduce(t *testing.T) {
	const topic, maxWait = "longpoll", 120_000
	c := testcluster.Start(t, testcluster.Options{Brokers: 1, Config: map[string]string{
		"gregor.fetch.wait.max.ms": strconv.Itoa(2 * maxWait),
	}})
	adm := newAdmin(t, c.Bootstrap())
	createTopic(t, adm, topic, 1, nil)

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
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
	}
	metrics := c.MetricsURL(1)
	before := parkedFetches(t, metrics)
	got := make(chan result, 1)
	go func() {
		r, err := req.RequestWith(ctx, cl)
		got <- result{r, err}
	}()

	// Produce only once the broker reports the fetch parked: then the produce must wake it.
	deadline := time.Now().Add(30 * time.Second)
	for parkedFetches(t, metrics) < before+1 {
		select {
		case r := <-got:
			t.Fatalf("fetch returned before it was seen parked and before any produce: %+v %v", r.resp, r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("fetch not parked within 30s (%s stays %v)", replica.ParkedFetchesMetric, before)
		}
		time.Sleep(20 * time.Millisecond) // polling the broker's gauge, with a deadline
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("wake up")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-got:
	case <-ctx.Done():
		t.Fatalf("parked fetch not woken by the produce (its max wait is %d ms)", maxWait)
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
	if n := parkedFetches(t, metrics); n != before {
		t.Fatalf("%s = %v after the fetch was answered, want %v", replica.ParkedFetchesMetric, n, before)
	}
}

// parkedFetches reads the broker's gregor_replica_parked_fetches gauge from its /metrics page.
func parkedFetches(t *testing.T, url string) float64 {
	t.Helper()
	hc := http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, replica.ParkedFetchesMetric+" "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", url, line, err)
			}
			return n
		}
	}
	t.Fatalf("%s has no %s", url, replica.ParkedFetchesMetric)
	return 0
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
