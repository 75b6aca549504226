package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-broker/gregor/internal/checker"
	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestReplicatedWrites is the replication issue's first check: 3 brokers, a 6-partition topic
// with replication factor 3 and min.insync.replicas=2. franz-go (idempotent, acks=all) and
// kafka-go (RequireAll) each write 100 000 records; every replica's log then holds the same
// batches up to the high watermark, byte for byte across the three brokers' segment files, and
// a fresh consumer reads every acknowledged record exactly once (the shared checker).
func TestReplicatedWrites(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 3})
	adm := newAdmin(t, c.Bootstrap())
	const parts, n = 6, 100_000
	cfg := map[string]string{"min.insync.replicas": "2"}
	createReplicated(t, adm, "rep-franz", parts, 3, cfg)
	createReplicated(t, adm, "rep-kafkago", parts, 3, cfg)
	conn := c.ZKConn()
	waitConverged(t, conn, "rep-franz", parts, 3, 60*time.Second)
	waitConverged(t, conn, "rep-kafkago", parts, 3, 60*time.Second)
	waitMetadata(t, c, []int32{1, 2, 3}, "rep-franz", parts, 3)
	waitMetadata(t, c, []int32{1, 2, 3}, "rep-kafkago", parts, 3)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	franz := checker.New(checker.Options{Idempotent: true})
	kgoErrs := make(chan error, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		kgoErrs <- produceFranz(ctx, c.Bootstrap(), "rep-franz", n, franz)
	}()
	kafkaGo := checker.New(checker.Options{})
	kafkaGoErrs := make(chan error, 1)
	go func() {
		defer wg.Done()
		kafkaGoErrs <- produceKafkaGo(ctx, c.Bootstrap(), "rep-kafkago", n, kafkaGo)
	}()
	wg.Wait()
	if err := <-kgoErrs; err != nil {
		t.Fatalf("franz-go producer: %v", err)
	}
	if err := <-kafkaGoErrs; err != nil {
		t.Fatalf("kafka-go producer: %v", err)
	}

	for _, tc := range []struct {
		topic string
		h     *checker.History
	}{{"rep-franz", franz}, {"rep-kafkago", kafkaGo}} {
		bytes := compareReplicas(t, c, adm, tc.topic, parts, []int32{1, 2, 3})
		back, err := checker.ReadBack(ctx, c.Bootstrap(), tc.h, tc.topic)
		if err != nil {
			t.Fatalf("read back %s: %v", tc.topic, err)
		}
		rep := tc.h.Check(back)
		if err := rep.Err(); err != nil {
			t.Fatalf("%s: %v\n%s", tc.topic, err, rep)
		}
		if len(back) != n {
			t.Fatalf("%s: read back %d records, wrote %d", tc.topic, len(back), n)
		}
		t.Logf("%s: %d records acknowledged and read back once each; %d bytes identical on 3 replicas", tc.topic, n, bytes)
	}
}

// produceFranz writes n records with an idempotent acks=all franz-go producer, recording each
// acknowledgement (and each write whose outcome is unknown) in h.
func produceFranz(ctx context.Context, bootstrap, topic string, n int, h *checker.History) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	var mu sync.Mutex
	var first error
	for i := 0; i < n; i++ {
		r := &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i%1000)), Value: []byte(fmt.Sprintf("franz-%07d", i))}
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				h.Attempted(checker.FromKgo(r))
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				return
			}
			h.Acked(checker.FromKgo(r))
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	return first
}

// produceKafkaGo writes n records with kafka-go's Writer (RequireAll), batches of 500.
func produceKafkaGo(ctx context.Context, bootstrap, topic string, n int, h *checker.History) error {
	w := &kafka.Writer{
		Addr:         kafka.TCP(strings.Split(bootstrap, ",")...),
		Topic:        topic,
		RequiredAcks: kafka.RequireAll,
		Balancer:     &kafka.Hash{},
		BatchSize:    500,
		BatchTimeout: 5 * time.Millisecond,
		Completion: func(msgs []kafka.Message, err error) {
			for _, m := range msgs {
				r := checker.Record{Topic: topic, Partition: int32(m.Partition), Offset: m.Offset, Key: m.Key, Value: m.Value}
				if err != nil {
					r.Offset = -1
					h.Attempted(r)
				} else {
					h.Acked(r)
				}
			}
		},
	}
	defer w.Close()
	const batch = 500
	for i := 0; i < n; i += batch {
		msgs := make([]kafka.Message, 0, batch)
		for j := i; j < i+batch && j < n; j++ {
			msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("k%d", j%1000)), Value: []byte(fmt.Sprintf("kafkago-%07d", j))})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return err
		}
	}
	return nil
}
