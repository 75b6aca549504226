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

// TestRackAwareness: with broker.rack set on three brokers, a new replication-factor-3 topic
// has each partition's replicas on three racks, and a franz-go consumer that says its rack
// (KIP-392, replica.selector.class = RackAwareReplicaSelector) is sent to, and served by, the
// follower in its rack — the brokers' own counters say which replica served it.
func TestRackAwareness(t *testing.T) {
	racks := map[int32]string{1: "rack-a", 2: "rack-b", 3: "rack-c"}
	per := map[int32]map[string]string{}
	for id, r := range racks {
		per[id] = map[string]string{"broker.rack": r}
	}
	c := testcluster.Start(t, testcluster.Options{Brokers: 3, PerBroker: per, Config: map[string]string{
		"replica.selector.class": "org.apache.kafka.common.replica.RackAwareReplicaSelector",
	}})
	adm := newAdmin(t, c.Bootstrap())
	const topic = "racks"
	createReplicated(t, adm, topic, 3, 3, nil)
	conn := c.ZKConn()
	waitConverged(t, conn, topic, 3, 3, 60*time.Second)
	waitMetadata(t, c, []int32{1, 2, 3}, topic, 3, 3)
	for p, reps := range assignmentOf(t, conn, topic) {
		seen := map[string]bool{}
		for _, r := range reps {
			seen[racks[r]] = true
		}
		if len(seen) != 3 {
			t.Fatalf("partition %d's replicas %v span racks %v", p, reps, seen)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.Bootstrap(), ",")...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte(fmt.Sprintf("r-%d", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	prod.Close()

	// A consumer in the rack of partition 0's first follower.
	st, _, _, err := getState(conn, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	var follower int32 = -1
	for _, r := range assignmentOf(t, conn, topic)[0] {
		if r != st.Leader {
			follower = r
			break
		}
	}
	before := scrape(t, c, follower, "gregor_replica_consumer_fetch_partitions_total", `role="follower"`)
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.Bootstrap(), ",")...), kgo.Rack(racks[follower]),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want := countPartition(t, ctx, c, topic, 0)
	got := 0
	for got < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of partition 0", got, want)
		}
		got += fs.NumRecords()
	}
	after := scrape(t, c, follower, "gregor_replica_consumer_fetch_partitions_total", `role="follower"`)
	if after <= before {
		t.Fatalf("broker %d (follower in rack %s) served no consumer fetch: counter %v -> %v",
			follower, racks[follower], before, after)
	}
	t.Logf("partition 0 (leader %d) read by a consumer in %s from follower %d: %v follower-served fetches",
		st.Leader, racks[follower], follower, after-before)
}

// countPartition is how many records partition p holds (its high watermark; the log starts at 0).
func countPartition(t *testing.T, ctx context.Context, c *testcluster.Cluster, topic string, p int32) int {
	t.Helper()
	ends, err := newAdmin(t, c.Bootstrap()).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := ends.Lookup(topic, p)
	if !ok || o.Err != nil {
		t.Fatalf("end offset of %s-%d: %v", topic, p, o.Err)
	}
	if o.Offset == 0 {
		t.Fatal(fmt.Sprintf("%s-%d is empty", topic, p))
	}
	return int(o.Offset)
}
