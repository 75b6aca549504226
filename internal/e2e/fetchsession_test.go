package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestFetchSessionsWithFranzGo: franz-go's consumer opens an incremental fetch session (KIP-227)
// on the broker — the FetchSessionCache gauges show one session of the topic's four partitions —
// and reads through it every record exactly once and in order, first with data on every
// partition, then with new records on one partition only, which the incremental fetches answer
// alone. The consumer asks for one batch per partition at a time, so it gets on only as far as
// the session takes over the fetch offsets it sends: a broker that served a session's partitions
// from stale offsets would repeat old batches (which franz-go drops) and never reach the new
// ones; one that dropped an answer would leave records unread.
func TestFetchSessionsWithFranzGo(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1})
	adm := newAdmin(t, c.Bootstrap())
	const topic, parts = "sessions", 4
	createTopic(t, adm, topic, parts, nil)

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.Bootstrap(), ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond),
		// One batch per partition per fetch: the consumer only gets on by the fetch offsets its
		// incremental fetches move, which the session must take over.
		kgo.FetchMaxPartitionBytes(512))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]int{}
	next := map[int32]int64{} // the offset each partition must deliver next
	consume := func(total int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for len(seen) < total {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("read %d of %d records", len(seen), total)
			}
			fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", topic, p, err) })
			fs.EachRecord(func(r *kgo.Record) {
				if r.Offset != next[r.Partition] {
					t.Fatalf("partition %d: offset %d delivered, %d expected next", r.Partition, r.Offset, next[r.Partition])
				}
				next[r.Partition]++
				if seen[string(r.Value)]++; seen[string(r.Value)] > 1 {
					t.Fatalf("%s delivered twice", r.Value)
				}
			})
		}
	}
	for i := range 4 { // round robin over the four partitions, a batch of 25 on each
		produceRecords(t, c.Bootstrap(), topic, fmt.Sprintf("first-%d", i), 100)
	}
	consume(400)

	sessions := func() (float64, float64) {
		mf := families(t, c, 1)
		return value(mf, "kafka_server_fetchsessioncache_numincrementalfetchsessions"),
			value(mf, "kafka_server_fetchsessioncache_numincrementalfetchpartitionscached")
	}
	eventually(t, "one fetch session of the topic's 4 partitions", func() bool {
		s, p := sessions()
		return s == 1 && p == parts
	})

	// New records on partition 2 only: the session's other partitions have nothing to say.
	pr, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.Bootstrap(), ",")...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := next[2]
	for round := 0; round < 5; round++ {
		recs := make([]*kgo.Record, 20)
		for i := range recs {
			recs[i] = &kgo.Record{Partition: 2, Value: fmt.Appendf(nil, "second-%d-%d", round, i)}
		}
		if err := pr.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce to partition 2: %v", err)
		}
		consume(400 + 20*(round+1))
	}
	if next[2] != before+100 || next[0] != 100 || next[1] != 100 || next[3] != 100 {
		t.Fatalf("next offsets %v, want 100 on 0, 1, 3 and %d on 2", next, before+100)
	}
	if s, _ := sessions(); s != 1 {
		t.Fatalf("%v fetch sessions after the second phase, want the consumer's one", s)
	}
}
