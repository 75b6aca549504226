package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestCompactedTopic: franz-go writes many updates per key, and tombstones for some keys, to a
// cleanup.policy=compact topic with small segments and short lags on a real broker process; the
// broker's log cleaner compacts it while a reader keeps reading it from the start. Eventually a
// read from the start returns each live key exactly once, with its latest value, at the offset
// the producer was given for it, and no tombstoned key — and the broker wrote Kafka's
// cleaner-offset-checkpoint.
func TestCompactedTopic(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1, Config: map[string]string{
		"log.cleaner.backoff.ms": "50",
	}})
	adm := newAdmin(t, c.Bootstrap())
	const topic = "compacted"
	createTopic(t, adm, topic, 1, map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.bytes":             kadm.StringPtr("4096"),
		"segment.ms":                kadm.StringPtr("100"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
		"min.compaction.lag.ms":     kadm.StringPtr("0"),
		"max.compaction.lag.ms":     kadm.StringPtr("1000"),
		"delete.retention.ms":       kadm.StringPtr("200"),
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	want := map[string]latestRecord{}
	produce := func(recs ...*kgo.Record) {
		t.Helper()
		res := cl.ProduceSync(ctx, recs...)
		if err := res.FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		for _, r := range res {
			want[string(r.Record.Key)] = latestRecord{r.Record.Value, r.Record.Offset}
		}
	}
	const keys, rounds = 25, 80
	for round := 0; round < rounds; round++ {
		var batch []*kgo.Record
		for k := 0; k < keys; k++ {
			batch = append(batch, &kgo.Record{Key: []byte(fmt.Sprintf("user-%02d", k)),
				Value:   []byte(fmt.Sprintf("user-%02d v%03d %s", k, round, strings.Repeat("x", 40))),
				Headers: []kgo.RecordHeader{{Key: "round", Value: []byte(fmt.Sprint(round))}}})
		}
		produce(batch...)
	}
	for k := 0; k < keys; k += 5 {
		produce(&kgo.Record{Key: []byte(fmt.Sprintf("user-%02d", k))}) // a tombstone
	}

	filler := 0
	var last string
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			t.Fatalf("the topic never read back compacted; last read: %s", last)
		}
		// New records with keys of their own roll segments and keep the cleaner busy, so the
		// tombstones' delete horizon passes and a later cleaning removes them.
		var fill []*kgo.Record
		for i := 0; i < 20; i++ {
			fill = append(fill, &kgo.Record{Key: []byte(fmt.Sprintf("filler-%05d", filler)), Value: bytes.Repeat([]byte{'f'}, 200)})
			filler++
		}
		produce(fill...)
		var ok bool
		if ok, last = readCompacted(ctx, t, c.Bootstrap(), topic, want); ok {
			break
		}
		select { // poll the condition again shortly; the context bounds the whole wait
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	data, err := os.ReadFile(filepath.Join(c.Broker(1).DataDir, "cleaner-offset-checkpoint"))
	if err != nil || !strings.HasPrefix(string(data), "0\n1\ncompacted 0 ") {
		t.Fatalf("cleaner-offset-checkpoint: %q %v", data, err)
	}
	logs, err := os.ReadFile(c.Broker(1).LogFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(logs), `msg="cleaned log"`); n == 0 || strings.Contains(string(logs), "cleaning failed") {
		t.Fatalf("broker log: %d cleanings, failure logged: %v", n, strings.Contains(string(logs), "cleaning failed"))
	}
}

// latestRecord is what the producer was told about a key's last write.
type latestRecord struct {
	value  []byte // nil: a tombstone
	offset int64
}

// readCompacted reads the partition from the start to its end and reports whether it is fully
// compacted against want: every key once, at its latest offset with its latest value, tombstoned
// keys absent. It fails the test on anything no compaction could explain (an offset out of order,
// a value that was never the latest at that offset).
func readCompacted(ctx context.Context, t *testing.T, bootstrap, topic string, want map[string]latestRecord) (bool, string) {
	t.Helper()
	adm := newAdmin(t, bootstrap)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	rd, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	seen := map[string]int{}
	stale, tombs := 0, 0
	prev := int64(-1)
	for prev < end.Offset-1 {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read to %d of %d: %v", prev, end.Offset, ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset <= prev {
				t.Fatalf("offset %d after %d", r.Offset, prev)
			}
			prev = r.Offset
			k := string(r.Key)
			seen[k]++
			w, ok := want[k]
			switch {
			case !ok:
				t.Fatalf("record %d has a key never produced: %q", r.Offset, k)
			case r.Offset == w.offset:
				if !bytes.Equal(r.Value, w.value) || (r.Value == nil) != (w.value == nil) {
					t.Fatalf("record %d of %s is %q, produced %q", r.Offset, k, r.Value, w.value)
				}
				if r.Value == nil {
					tombs++
				} else if !strings.HasPrefix(k, "filler-") {
					if len(r.Headers) != 1 || r.Headers[0].Key != "round" {
						t.Fatalf("record %d of %s lost its header: %v", r.Offset, k, r.Headers)
					}
				}
			case r.Offset > w.offset:
				t.Fatalf("record %d of %s is past its latest offset %d", r.Offset, k, w.offset)
			default:
				stale++ // an older value not cleaned yet
			}
		})
	}
	dups := 0
	for k, w := range want {
		switch n := seen[k]; {
		case w.value != nil && n == 0:
			t.Fatalf("key %s (latest at %d) missing from the log", k, w.offset)
		case n > 1:
			dups++
		}
	}
	status := fmt.Sprintf("%d records to offset %d: %d stale values, %d keys repeated, %d tombstones", len(seen), end.Offset, stale, dups, tombs)
	return stale == 0 && dups == 0 && tombs == 0, status
}
