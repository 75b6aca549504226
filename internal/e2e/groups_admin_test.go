package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// groupTestConfig makes rebalances quick enough for tests: no initial delay, sessions down to 1s.
var groupTestConfig = map[string]string{
	"group.initial.rebalance.delay.ms": "0",
	"group.min.session.timeout.ms":     "1000",
}

// produceN writes n records ("<prefix>-<i>") spread over the topic's partitions, acks=all.
func produceN(t *testing.T, bootstrap, topic, prefix string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf("%s-%d", prefix, i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %s: %v", prefix, err)
	}
}

// TestGroupAdminWithKadm: a franz-go group consumes and commits; kadm lists, describes and
// fetches the group's offsets (they equal the log end), refuses to delete it while it has
// members (NON_EMPTY_GROUP) and deletes it once empty; __consumer_offsets is internal in
// Metadata and a client produce to it is refused.
func TestGroupAdminWithKadm(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1, Config: groupTestConfig})
	adm := newAdmin(t, c.Bootstrap())
	const topic = "admin-orders"
	createTopic(t, adm, topic, 6, nil)
	produceN(t, c.Bootstrap(), topic, "r", 600)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// ApiVersions advertises every group API with the versions served.
	versions, err := adm.ApiVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int16][2]int16{8: {0, 8}, 9: {0, 8}, 10: {0, 4}, 11: {0, 9}, 12: {0, 4}, 13: {0, 5}, 14: {0, 5},
		15: {0, 5}, 16: {0, 4}, 42: {0, 2}, 47: {0, 0}}
	versions.Each(func(v kadm.BrokerApiVersions) {
		for key, r := range want {
			if lo, hi, ok := v.KeyVersions(key); !ok || lo != r[0] || hi != r[1] {
				t.Errorf("ApiVersions of broker %d, key %d: %d..%d (%v), want %d..%d", v.NodeID, key, lo, hi, ok, r[0], r[1])
			}
		}
	})

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.ConsumerGroup("g-admin"), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(3*time.Second), kgo.HeartbeatInterval(300*time.Millisecond), kgo.ClientID("admin-test"))
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for read < 600 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of 600", read)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		read += fs.NumRecords()
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}

	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lg, ok := listed["g-admin"]; !ok || lg.ProtocolType != "consumer" || lg.State != "Stable" {
		t.Fatalf("list groups: %+v", listed)
	}
	described, err := adm.DescribeGroups(ctx, "g-admin")
	if err != nil {
		t.Fatal(err)
	}
	dg := described["g-admin"]
	if dg.Err != nil || dg.State != "Stable" || dg.Protocol != "cooperative-sticky" && dg.Protocol != "range" && dg.Protocol != "sticky" || len(dg.Members) != 1 {
		t.Fatalf("describe: %+v", dg)
	}
	m := dg.Members[0]
	ca, _ := m.Assigned.AsConsumer()
	if m.ClientID != "admin-test" || m.ClientHost != "/127.0.0.1" || ca == nil || len(ca.Topics) != 1 || len(ca.Topics[0].Partitions) != 6 {
		t.Fatalf("member: %+v assignment %+v", m, ca)
	}
	offsets, err := adm.FetchOffsets(ctx, "g-admin")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	ends.Each(func(e kadm.ListedOffset) {
		o, ok := offsets.Lookup(topic, e.Partition)
		if !ok || o.Err != nil || o.At != e.Offset {
			t.Errorf("partition %d: committed %+v, log end %d", e.Partition, o, e.Offset)
		}
		sum += o.At
	})
	if sum != 600 {
		t.Fatalf("committed offsets add up to %d, want 600", sum)
	}

	if del, err := adm.DeleteGroups(ctx, "g-admin"); err != nil || !errors.Is(del["g-admin"].Err, kerr.NonEmptyGroup) {
		t.Fatalf("delete of an active group: %+v %v", del, err)
	}
	cl.Close() // leaves the group
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := adm.DescribeGroups(ctx, "g-admin")
		if err == nil && d["g-admin"].State == "Empty" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group not empty after its only member left: %+v %v", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if del, err := adm.DeleteGroups(ctx, "g-admin"); err != nil || del["g-admin"].Err != nil {
		t.Fatalf("delete of an empty group: %+v %v", del, err)
	}
	if del, err := adm.DeleteGroups(ctx, "g-admin"); err != nil || !errors.Is(del["g-admin"].Err, kerr.GroupIDNotFound) {
		t.Fatalf("delete of a deleted group: %+v %v", del, err)
	}
	offsets, err = adm.FetchOffsets(ctx, "g-admin")
	if err != nil || len(offsets) != 0 {
		t.Fatalf("offsets of a deleted group: %+v %v", offsets, err)
	}

	// __consumer_offsets: internal, and clients may not write it.
	md, err := adm.Metadata(ctx, "__consumer_offsets")
	if err != nil {
		t.Fatal(err)
	}
	td := md.Topics["__consumer_offsets"]
	if !td.IsInternal || len(td.Partitions) != 50 {
		t.Fatalf("__consumer_offsets metadata: internal %v, %d partitions", td.IsInternal, len(td.Partitions))
	}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.RequestRetries(0), kgo.RecordRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	err = pcl.ProduceSync(ctx, &kgo.Record{Topic: "__consumer_offsets", Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.InvalidTopicException) {
		t.Fatalf("produce to __consumer_offsets: %v, want INVALID_TOPIC_EXCEPTION", err)
	}
}
