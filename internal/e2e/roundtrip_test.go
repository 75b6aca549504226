package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

const (
	roundTripRecords    = 100_000
	roundTripPartitions = 6
)

// sent is what a producer wrote for record i; the reader checks every field against it.
type sent struct {
	key, value []byte
	headers    map[string]string
	ts         time.Time
}

func recordFor(i int, base time.Time) sent {
	return sent{
		key:     []byte(fmt.Sprintf("customer-%d", i%977)),
		value:   []byte(fmt.Sprintf(`{"order":%d,"amount":%d}`, i, i*7%1000)),
		headers: map[string]string{"seq": strconv.Itoa(i), "source": "e2e"},
		ts:      base.Add(time.Duration(i) * time.Millisecond),
	}
}

// TestKafkaGoAndFranzGoRoundTrip: each client produces 100 000 keyed records with headers to a
// 6-partition topic created through CreateTopics; reading back from offset 0 returns every record
// exactly once, in order per partition, with identical keys, values, headers and timestamps; kcat
// reads the same count and lists the broker and partitions.
func TestKafkaGoAndFranzGoRoundTrip(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1})
	adm := newAdmin(t, c.Bootstrap())
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)

	t.Run("kafka-go", func(t *testing.T) {
		topic := "orders-kafkago"
		createTopic(t, adm, topic, roundTripPartitions, nil)
		w := &kafka.Writer{
			Addr:         kafka.TCP(c.Bootstrap()),
			Topic:        topic,
			Balancer:     &kafka.Hash{},
			RequiredAcks: kafka.RequireAll,
			BatchSize:    2000,
			BatchBytes:   1 << 20,
			BatchTimeout: 5 * time.Millisecond,
		}
		defer w.Close()
		msgs := make([]kafka.Message, 0, 10_000)
		for i := 0; i < roundTripRecords; i++ {
			r := recordFor(i, base)
			m := kafka.Message{Key: r.key, Value: r.value, Time: r.ts}
			for _, k := range []string{"seq", "source"} {
				m.Headers = append(m.Headers, kafka.Header{Key: k, Value: []byte(r.headers[k])})
			}
			msgs = append(msgs, m)
			if len(msgs) == cap(msgs) {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				err := w.WriteMessages(ctx, msgs...)
				cancel()
				if err != nil {
					t.Fatalf("kafka-go write: %v", err)
				}
				msgs = msgs[:0]
			}
		}
		verifyTopic(t, c, topic, base)
	})

	for _, codec := range []struct {
		name  string
		codec kgo.CompressionCodec
	}{{"lz4", kgo.Lz4Compression()}, {"zstd", kgo.ZstdCompression()}} {
		t.Run("franz-go-"+codec.name, func(t *testing.T) {
			topic := "orders-franz-" + codec.name
			createTopic(t, adm, topic, roundTripPartitions, nil)
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.DefaultProduceTopic(topic),
				kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(codec.codec),
				kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			var wg sync.WaitGroup
			var mu sync.Mutex
			var firstErr error
			for i := 0; i < roundTripRecords; i++ {
				r := recordFor(i, base)
				rec := &kgo.Record{Key: r.key, Value: r.value, Timestamp: r.ts}
				for _, k := range []string{"seq", "source"} {
					rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(r.headers[k])})
				}
				wg.Add(1)
				cl.Produce(context.Background(), rec, func(_ *kgo.Record, err error) {
					defer wg.Done()
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if firstErr != nil {
				t.Fatalf("franz-go produce: %v", firstErr)
			}
			verifyTopic(t, c, topic, base)
		})
	}
}

// verifyTopic reads every partition from offset 0 with franz-go and checks every record against
// what the producer sent; then kcat must count the same number and list the partitions.
func verifyTopic(t *testing.T, c *testcluster.Cluster, topic string, base time.Time) {
	t.Helper()
	offsets := map[string]map[int32]kgo.Offset{topic: {}}
	for p := int32(0); p < roundTripPartitions; p++ {
		offsets[topic][p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.ConsumePartitions(offsets),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := make([]bool, roundTripRecords)
	lastSeq := map[int32]int{}
	nextOffset := map[int32]int64{}
	keyPartition := map[string]int32{}
	total := 0
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for total < roundTripRecords {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read back %d of %d records before timeout", total, roundTripRecords)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			hdr := map[string]string{}
			for _, h := range r.Headers {
				hdr[h.Key] = string(h.Value)
			}
			seq, err := strconv.Atoi(hdr["seq"])
			if err != nil || seq < 0 || seq >= roundTripRecords {
				t.Fatalf("record at %d/%d has bad seq header %q", r.Partition, r.Offset, hdr["seq"])
			}
			if seen[seq] {
				t.Fatalf("record %d read twice (partition %d offset %d)", seq, r.Partition, r.Offset)
			}
			seen[seq] = true
			want := recordFor(seq, base)
			if !bytes.Equal(r.Key, want.key) || !bytes.Equal(r.Value, want.value) {
				t.Fatalf("record %d: key/value %q/%q, want %q/%q", seq, r.Key, r.Value, want.key, want.value)
			}
			if len(hdr) != len(want.headers) || hdr["source"] != want.headers["source"] {
				t.Fatalf("record %d: headers %v, want %v", seq, hdr, want.headers)
			}
			if !r.Timestamp.Equal(want.ts) {
				t.Fatalf("record %d: timestamp %v, want %v", seq, r.Timestamp, want.ts)
			}
			if prev, ok := lastSeq[r.Partition]; ok && seq <= prev {
				t.Fatalf("partition %d out of order: seq %d after %d", r.Partition, seq, prev)
			}
			lastSeq[r.Partition] = seq
			if r.Offset != nextOffset[r.Partition] {
				t.Fatalf("partition %d: offset %d, want %d (gap or duplicate)", r.Partition, r.Offset, nextOffset[r.Partition])
			}
			nextOffset[r.Partition]++
			if p, ok := keyPartition[string(r.Key)]; ok && p != r.Partition {
				t.Fatalf("key %s in partitions %d and %d", r.Key, p, r.Partition)
			}
			keyPartition[string(r.Key)] = r.Partition
			total++
		})
	}
	if len(lastSeq) < 2 {
		t.Fatalf("records landed in %d partitions; the keyed producer should spread them", len(lastSeq))
	}

	out, err := exec.Command("kcat", "-C", "-b", c.Bootstrap(), "-t", topic, "-e", "-q", "-f", "%p %o\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, tail(out))
	}
	if n := strings.Count(string(out), "\n"); n != roundTripRecords {
		t.Fatalf("kcat read %d records, want %d\n%s", n, roundTripRecords, tail(out))
	}
	out, err = exec.Command("kcat", "-L", "-b", c.Bootstrap(), "-t", topic).CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -L: %v\n%s", err, out)
	}
	meta := string(out)
	if !strings.Contains(meta, "broker 1 at "+c.Addr(1)) {
		t.Fatalf("kcat -L does not list broker 1 at %s:\n%s", c.Addr(1), meta)
	}
	if !strings.Contains(meta, fmt.Sprintf("topic \"%s\" with %d partitions", topic, roundTripPartitions)) {
		t.Fatalf("kcat -L does not list %d partitions of %s:\n%s", roundTripPartitions, topic, meta)
	}
	for p := 0; p < roundTripPartitions; p++ {
		if !strings.Contains(meta, fmt.Sprintf("partition %d, leader 1, replicas: 1, isrs: 1", p)) {
			t.Fatalf("kcat -L: partition %d not led by broker 1:\n%s", p, meta)
		}
	}
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
