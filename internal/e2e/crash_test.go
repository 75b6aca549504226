package e2e

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-broker/gregor/internal/checker"
	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestIdempotentProduceSurvivesSIGKILL: the broker is SIGKILLed in the middle of an idempotent,
// acks=all franz-go produce and restarted. Every acknowledged record is read back exactly once,
// offsets have no gap or duplicate, and the producer's retries after the restart create no
// duplicate (each value carries a unique sequence number).
func TestIdempotentProduceSurvivesSIGKILL(t *testing.T) {
	const (
		topic      = "crash"
		partitions = 3
		total      = 30_000
		killAfter  = 10_000 // acknowledged records before the kill
	)
	c := testcluster.Start(t, testcluster.Options{Brokers: 1})
	adm := newAdmin(t, c.Bootstrap())
	createTopic(t, adm, topic, partitions, nil)

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	h := checker.New(checker.Options{Idempotent: true})
	var mu sync.Mutex
	acked := map[uint64]bool{}
	var failures []error
	reachedKill := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			v := binary.BigEndian.AppendUint64(nil, uint64(i))
			wg.Add(1)
			cl.Produce(context.Background(), &kgo.Record{Key: v, Value: v}, func(r *kgo.Record, err error) {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failures = append(failures, err)
					return
				}
				acked[binary.BigEndian.Uint64(r.Value)] = true
				h.Acked(checker.FromKgo(r))
				if len(acked) >= killAfter {
					once.Do(func() { close(reachedKill) })
				}
			})
		}
	}
	produce(0, total/2)
	select {
	case <-reachedKill:
	case <-time.After(60 * time.Second):
		t.Fatalf("only %d records acknowledged before the kill point", len(acked))
	}
	c.Kill(1) // mid-stream: more records are in flight or buffered
	produce(total/2, total)
	c.StartBroker(1)
	c.WaitRegistered(1, 60*time.Second)

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		t.Fatalf("producer did not finish after the restart (%d acked)", len(acked))
	}
	if len(failures) > 0 {
		t.Fatalf("%d records failed; first: %v", len(failures), failures[0])
	}
	if len(acked) != total {
		t.Fatalf("%d records acknowledged, want %d", len(acked), total)
	}

	// Read everything back: every acknowledged record exactly once, at its acknowledged offset,
	// in order, intact, and nothing else (internal/checker).
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	read, err := checker.ReadBack(ctx, c.Bootstrap(), h, topic)
	if err != nil {
		t.Fatal(err)
	}
	if rep := h.Check(read); rep.Err() != nil {
		t.Fatal(rep.Err())
	} else if rep.Read != total {
		t.Fatalf("partitions hold %d records, want %d", rep.Read, total)
	}
}
