package e2e

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/checker"
	"github.com/gregor-broker/gregor/internal/testcluster"
)

// stateJSON is Kafka 2.8's exact state znode layout, key order included.
var stateJSON = regexp.MustCompile(`^\{"controller_epoch":\d+,"leader":-?\d+,"version":1,"leader_epoch":\d+,"isr":\[(\d+(,\d+)*)?\]\}$`)

// TestISRShrinkAndExpand: a SIGSTOPped follower leaves the ISR after replica.lag.time.max.ms
// (the leader's AlterIsr, written by the controller) and rejoins once SIGCONTed and caught up;
// the state znode shows both in Kafka's JSON. While the ISR is below min.insync.replicas an
// acks=all produce gets NOT_ENOUGH_REPLICAS, and nothing is written.
func TestISRShrinkAndExpand(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 3, Config: map[string]string{
		"replica.lag.time.max.ms": "1500",
		// Far above the pause, so the controller never sees the follower as dead: only the
		// leader's lag tracking moves the ISR.
		"zookeeper.session.timeout.ms": "30000",
	}})
	adm := newAdmin(t, c.Bootstrap())
	const topic = "isr"
	createReplicated(t, adm, topic, 1, 3, map[string]string{"min.insync.replicas": "3"})
	conn := c.ZKConn()
	st := waitPartition(t, conn, topic, 0, 60*time.Second, "ISR of 3", func(s partitionState) bool { return len(s.ISR) == 3 })
	waitMetadata(t, c, []int32{1, 2, 3}, topic, 1, 3)
	leader := st.Leader
	// The paused follower must not be the controller: the leader's AlterIsr goes to the
	// controller, and a paused controller would answer nothing until the pause ends.
	ctl := controllerID(t, conn)
	follower := leader%3 + 1
	if follower == ctl {
		follower = follower%3 + 1
	}
	if follower == leader || follower == ctl {
		t.Fatalf("no follower apart from leader %d and controller %d", leader, ctl)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr(leader)), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatalf("produce with a full ISR: %v", err)
	}

	c.Pause(follower)
	paused := true
	defer func() {
		if paused {
			c.Resume(follower)
		}
	}()
	shrunk := waitPartition(t, conn, topic, 0, 60*time.Second, "follower leaves the ISR", func(s partitionState) bool {
		return len(s.ISR) == 2 && !containsID(s.ISR, follower)
	})
	if shrunk.LeaderEpoch != st.LeaderEpoch || shrunk.Leader != leader {
		t.Fatalf("an ISR shrink by AlterIsr keeps leader and epoch: before %+v, after %+v", st, shrunk)
	}
	_, raw, _, err := getState(conn, topic, 0)
	if err != nil || !stateJSON.Match(raw) {
		t.Fatalf("state znode %s is not Kafka's JSON (%v)", raw, err)
	}

	// ISR 2 < min.insync.replicas 3: refused before the append. The leader's own view of the
	// ISR changes when the controller answers its AlterIsr, an instant after the znode.
	// A try before the leader learns of the shrink is appended (Kafka answers it
	// NOT_ENOUGH_REPLICAS_AFTER_APPEND or a timeout, and keeps it): each try has its own value, so
	// that only the refused one is held to "never written".
	tries := 0
	try := func() int16 {
		tries++
		return produceRaw(t, ctx, cl, leader, topic, fmt.Sprintf("try-%d", tries))
	}
	code := try()
	for deadline := time.Now().Add(30 * time.Second); code != kerr.NotEnoughReplicas.Code && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond) // the leader applies the controller's answer asynchronously
		code = try()
	}
	refused := fmt.Sprintf("try-%d", tries)
	if code != kerr.NotEnoughReplicas.Code {
		t.Fatalf("acks=all with ISR below min.insync.replicas: error code %d, want NOT_ENOUGH_REPLICAS", code)
	}

	// kafka-topics.sh's filters show the partition while the follower is out.
	// The paused follower would stall a client that asks it first: ask the leader.
	describe := []string{"topics", "describe", "--bootstrap-server", c.Addr(leader), "--topic", topic}
	waitDescribe(t, append(describe, "--under-replicated-partitions"), func(out string) bool {
		return strings.Contains(out, "\tPartition: 0\t") && !strings.Contains(out, "PartitionCount")
	})
	waitDescribe(t, append(describe, "--under-min-isr-partitions"), func(out string) bool {
		return strings.Contains(out, "\tPartition: 0\t")
	})
	if out, _ := gregorCmd(t, append(describe, "--unavailable-partitions")...); strings.TrimSpace(out) != "" {
		t.Fatalf("--unavailable-partitions lists a partition that has a leader:\n%s", out)
	}

	c.Resume(follower)
	paused = false
	grown := waitPartition(t, conn, topic, 0, 60*time.Second, "follower rejoins the ISR", func(s partitionState) bool {
		return len(s.ISR) == 3
	})
	_, raw, _, _ = getState(conn, topic, 0)
	if !stateJSON.Match(raw) || grown.LeaderEpoch != st.LeaderEpoch {
		t.Fatalf("after the expansion: %s", raw)
	}
	waitDescribe(t, append(describe, "--under-replicated-partitions"), func(out string) bool {
		return strings.TrimSpace(out) == ""
	})
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatalf("produce after the follower rejoined: %v", err)
	}
	back, err := checker.ReadAll(ctx, c.Bootstrap(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, r := range back {
		values = append(values, string(r.Value))
	}
	// before, then whichever tries were appended before the leader saw the shrink (in order),
	// then after; never the refused one.
	ok := len(values) >= 2 && values[0] == "before" && values[len(values)-1] == "after"
	for i, v := range values[1 : len(values)-1] {
		ok = ok && v == fmt.Sprintf("try-%d", i+1) && v != refused
	}
	if !ok {
		t.Fatalf("log holds %q: want before, tries appended before the shrink was known, after — never %s, the refused produce", values, refused)
	}
	compareReplicas(t, c, adm, topic, 1, []int32{1, 2, 3})
}

// produceRaw sends one acks=all Produce straight to broker id and returns the partition's
// error code (franz-go's producer would retry NOT_ENOUGH_REPLICAS on its own).
func produceRaw(t *testing.T, ctx context.Context, cl *kgo.Client, id int32, topic, value string) int16 {
	t.Helper()
	raw := validBatch([]byte(value))
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = 0, raw
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.Broker(int(id)).Request(ctx, req)
	if err != nil {
		t.Fatalf("produce to broker %d: %v", id, err)
	}
	return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
}

func containsID(xs []int32, x int32) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestDivergedFollowerTruncates: a broker that led, took acks=1 writes that never replicated,
// and was killed, returns as a follower of a leader that took other writes meanwhile. It
// truncates where the logs diverge (Fetch's DivergingEpoch) and ends byte-identical to the
// leader. The new leader comes from an unclean election, the only way a leader can lack
// writes its predecessor acknowledged.
func TestDivergedFollowerTruncates(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 3})
	adm := newAdmin(t, c.Bootstrap())
	const topic = "diverge"
	createReplicated(t, adm, topic, 1, 3, map[string]string{"unclean.leader.election.enable": "true"})
	conn := c.ZKConn()
	st := waitPartition(t, conn, topic, 0, 60*time.Second, "ISR of 3", func(s partitionState) bool { return len(s.ISR) == 3 })
	waitMetadata(t, c, []int32{1, 2, 3}, topic, 1, 3)
	old := st.Leader
	f1, f2 := old%3+1, (old+1)%3+1
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// A: on every replica.
	produceValues(t, ctx, c.Addr(old), topic, kgo.AllISRAcks(), "A", 5)
	compareReplicas(t, c, adm, topic, 1, []int32{1, 2, 3})
	// B: acks=1 on the old leader alone, its followers dead.
	c.Kill(f1)
	c.Kill(f2)
	waitPartition(t, conn, topic, 0, 60*time.Second, "ISR shrinks to the leader", func(s partitionState) bool {
		return len(s.ISR) == 1 && s.ISR[0] == old
	})
	produceValues(t, ctx, c.Addr(old), topic, kgo.LeaderAck(), "B", 5)
	c.Kill(old)
	oldLog, err := segmentBytes(filepath.Join(c.Broker(old).DataDir, topic+"-0"))
	if err != nil || lastOffset(oldLog) != 9 {
		t.Fatalf("the old leader's log should end at offset 9 (A then B): last %d, %v", lastOffset(oldLog), err)
	}
	// C: on f1, elected uncleanly, and f2.
	c.StartBroker(f1)
	c.WaitRegistered(f1, 60*time.Second)
	newer := waitPartition(t, conn, topic, 0, 60*time.Second, "unclean election of the first follower", func(s partitionState) bool {
		return s.Leader == f1
	})
	c.StartBroker(f2)
	c.WaitRegistered(f2, 60*time.Second)
	waitPartition(t, conn, topic, 0, 60*time.Second, "second follower joins", func(s partitionState) bool { return len(s.ISR) == 2 })
	waitMetadata(t, c, []int32{f1, f2}, topic, 1, 2)
	produceValues(t, ctx, c.Addr(f1), topic, kgo.AllISRAcks(), "C", 7)

	// The old leader returns: it must drop B and take C.
	c.StartBroker(old)
	c.WaitRegistered(old, 60*time.Second)
	waitPartition(t, conn, topic, 0, 90*time.Second, "old leader rejoins the ISR", func(s partitionState) bool { return len(s.ISR) == 3 })
	compareReplicas(t, c, adm, topic, 1, []int32{1, 2, 3})
	back, err := checker.ReadAll(ctx, c.Bootstrap(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	for _, r := range back {
		got.WriteString(string(r.Value)[:1])
	}
	if got.String() != "AAAAACCCCCCC" {
		t.Fatalf("log after truncation holds %q, want A×5 then C×7 (B dropped)", got.String())
	}
	if newer.LeaderEpoch <= st.LeaderEpoch {
		t.Fatalf("leader epoch did not move: %d then %d", st.LeaderEpoch, newer.LeaderEpoch)
	}
	if n := scrape(t, c, old, "gregor_replica_follower_truncations_total"); n < 1 {
		t.Fatalf("the returning broker reports %v truncations", n)
	}
}

// produceValues writes n records "<prefix>-<i>" to broker addr with the given acks.
func produceValues(t *testing.T, ctx context.Context, addr, topic string, acks kgo.Acks, prefix string, n int) {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(acks)}
	if acks != kgo.AllISRAcks() {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < n; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("%s-%d", prefix, i))}).FirstErr(); err != nil {
			t.Fatalf("produce %s-%d: %v", prefix, i, err)
		}
	}
}

// TestConsumerFollowsLeaderChange: a franz-go consumer reading a partition whose leader is
// killed validates its position with the new leader through OffsetForLeaderEpoch (KIP-320)
// and carries on from where it was: every record once, no reset to the start or the end.
func TestConsumerFollowsLeaderChange(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 3})
	adm := newAdmin(t, c.Bootstrap())
	const topic = "follow"
	createReplicated(t, adm, topic, 1, 3, map[string]string{"min.insync.replicas": "2"})
	conn := c.ZKConn()
	st := waitPartition(t, conn, topic, 0, 60*time.Second, "ISR of 3", func(s partitionState) bool { return len(s.ISR) == 3 })
	waitMetadata(t, c, []int32{1, 2, 3}, topic, 1, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h := checker.New(checker.Options{Idempotent: true})
	write := func(from, to int) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.Bootstrap(), ",")...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		for i := from; i < to; i++ {
			r := &kgo.Record{Value: []byte(fmt.Sprintf("f-%05d", i))}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
			h.Acked(checker.FromKgo(r))
		}
	}
	write(0, 500)
	cons, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.Bootstrap(), ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var read []checker.Record
	readUntil := func(n int) {
		for len(read) < n {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("consumer read %d of %d records", len(read), n)
			}
			fs.EachRecord(func(r *kgo.Record) { read = append(read, checker.FromKgo(r)) })
		}
	}
	readUntil(500)
	c.Kill(st.Leader)
	next := waitPartition(t, conn, topic, 0, 60*time.Second, "new leader", func(s partitionState) bool {
		return s.Leader >= 0 && s.Leader != st.Leader
	})
	write(500, 1000)
	readUntil(1000)
	rep := h.Check(read)
	if err := rep.Err(); err != nil {
		t.Fatalf("the consumer across the leader change: %v", err)
	}
	if len(read) != 1000 {
		t.Fatalf("read %d records, want 1000 exactly once", len(read))
	}
	if n := scrape(t, c, next.Leader, "gregor_network_requests_total", `api="OffsetForLeaderEpoch"`); n < 1 {
		t.Fatalf("the new leader served %v OffsetForLeaderEpoch requests; franz-go validates its position with it", n)
	}
}

// waitDescribe runs `gregor topics describe ...` until cond accepts its output: brokers learn an
// ISR change from the controller's UpdateMetadata a moment after the znode changes.
func waitDescribe(t *testing.T, args []string, cond func(string) bool) {
	t.Helper()
	var out string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if out, _ = gregorCmd(t, args...); cond(out) {
			return
		}
		time.Sleep(200 * time.Millisecond) // polling the brokers' metadata, with a deadline
	}
	t.Fatalf("gregor %s never showed what was expected; last output:\n%s", strings.Join(args, " "), out)
}
