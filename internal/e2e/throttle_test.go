package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/checker"
	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestReplicationThrottle: a topic of 3 partitions holding 6 MiB on broker 1 goes from
// replication factor 1 to 3 with `gregor reassign --execute --throttle`, under an acks=all
// producer. The rates are in /config/brokers/<id> and the throttled replicas in the topic's
// config as Kafka writes them, and DescribeConfigs reports the rates as dynamic broker configs.
// While the throttle holds, the bytes the new replicas have on disk stay within what the leader
// quota lets through — at most 11 s of the rate (its 11 one-second samples) plus a few fetches
// per 10 s, measured from before the command ran — where the unthrottled copy of 12 MiB takes
// a second or two. Raising the rate at runtime lets the move complete; `--verify` then removes
// every throttle, and the checker finds each acknowledged record once on all three replicas.
func TestReplicationThrottle(t *testing.T) {
	const (
		rate      = 64 << 10 // B/s
		fetchMax  = 64 << 10 // replica.fetch.max.bytes: what one fetch may overshoot per partition
		batchMax  = 16 << 10 // the preload's batches, so a fetch's first batch adds little
		preload   = 6 << 20
		recSize   = 4 << 10
		partition = 3
		observe   = 12 * time.Second
	)
	c := testcluster.Start(t, testcluster.Options{Brokers: 3, Config: map[string]string{
		"replica.fetch.max.bytes":          strconv.Itoa(fetchMax),
		"replica.fetch.response.max.bytes": strconv.Itoa(partition * fetchMax),
	}})
	adm := newAdmin(t, c.Bootstrap())
	conn := c.ZKConn()
	bs := c.Bootstrap()
	const topic = "slow"
	gregorCmd(t, "topics", "create", "--bootstrap-server", bs, "--topic", topic, "--replica-assignment", "1,1,1")
	waitConverged(t, conn, topic, partition, 1, 60*time.Second)
	waitMetadata(t, c, []int32{1, 2, 3}, topic, partition, 1)

	h := checker.New(checker.Options{Idempotent: true})
	preloadTopic(t, bs, topic, h, preload/recSize, recSize, batchMax)
	p := startChaosProducer(t, bs, topic, h)

	// RF 1 -> 3, throttled.
	plan := writePlan(t, map[int][]int{0: {1, 2, 3}, 1: {1, 2, 3}, 2: {1, 2, 3}}, topic)
	start := time.Now()
	out, _ := gregorCmd(t, "reassign", "--bootstrap-server", c.Addr(1), "--execute", "--throttle", strconv.Itoa(rate), "--reassignment-json-file", plan)
	if !strings.Contains(out, fmt.Sprintf("The inter-broker throttle limit was set to %d B/s", rate)) ||
		!strings.Contains(out, "Successfully started partition reassignments for slow-0,slow-1,slow-2") {
		t.Fatalf("--execute --throttle printed:\n%s", out)
	}
	wantRates := fmt.Sprintf(`{"version":1,"config":{"leader.replication.throttled.rate":"%d","follower.replication.throttled.rate":"%d"}}`, rate, rate)
	for _, id := range []int32{1, 2, 3} {
		if got := znode(t, c, fmt.Sprintf("/config/brokers/%d", id)); got != wantRates {
			t.Fatalf("/config/brokers/%d = %s, want %s", id, got, wantRates)
		}
	}
	if got, want := znode(t, c, "/config/topics/"+topic),
		`{"version":1,"config":{"leader.replication.throttled.replicas":"0:1,1:1,2:1","follower.replication.throttled.replicas":"0:2,0:3,1:2,1:3,2:2,2:3"}}`; got != want {
		t.Fatalf("/config/topics/%s = %s, want %s", topic, got, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if c := brokerConfig(t, ctx, adm, 1, "leader.replication.throttled.rate"); c.Value == nil || *c.Value != strconv.Itoa(rate) ||
		c.Source != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Fatalf("DescribeConfigs of broker 1: %+v", c)
	}

	// While throttled: the copy stays within the leader quota's bound, and makes progress.
	slack := float64(2 * partition * (fetchMax + batchMax)) // both followers' fetches in flight at a check
	var moved int64
	var elapsed time.Duration
	for {
		moved, elapsed = replicaBytes(t, c, []int32{2, 3}, topic), time.Since(start)
		windows := math.Ceil(elapsed.Seconds() / 10)
		if limit := windows * (11*rate + slack); float64(moved) > limit {
			t.Fatalf("throttled at %d B/s: the new replicas hold %d bytes %v after --execute, above %.0f", rate, moved, elapsed.Round(time.Millisecond), limit)
		}
		if elapsed >= observe {
			break
		}
		time.Sleep(250 * time.Millisecond) // sampling the copy's progress over the interval
	}
	if moved < 4*rate {
		t.Fatalf("throttled at %d B/s: only %d bytes copied in %v", rate, moved, elapsed)
	}
	t.Logf("throttled at %d B/s: %d bytes copied to the new replicas in %v (%.0f B/s; unthrottled it is %d bytes at once)",
		rate, moved, elapsed.Round(time.Millisecond), float64(moved)/elapsed.Seconds(), 2*preload)
	if leaderBytes := value(families(t, c, 1), "gregor_replica_throttled_bytes_total", "quota", "leader"); leaderBytes <= 0 {
		t.Fatalf("broker 1 counted no throttled bytes as the leader")
	}
	if out, ok := gregorStatus(t, "reassign", "--bootstrap-server", c.Addr(1), "--verify", "--reassignment-json-file", plan); ok ||
		!strings.Contains(out, "Reassignment of partition slow-0 is still in progress.") || strings.Contains(out, "Clearing") {
		t.Fatalf("--verify while throttled (exit ok %v):\n%s", ok, out)
	}
	if got := znode(t, c, "/config/brokers/1"); got != wantRates {
		t.Fatalf("--verify of a running move changed the throttle: %s", got)
	}

	// Raised at runtime, the throttle no longer holds the move back.
	resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "leader.replication.throttled.rate", Value: kadm.StringPtr("1073741824")},
		{Op: kadm.SetConfig, Name: "follower.replication.throttled.rate", Value: kadm.StringPtr("1073741824")}}, 1, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resps {
		if r.Err != nil {
			t.Fatalf("raise the throttle of broker %s: %v %s", r.Name, r.Err, r.ErrMessage)
		}
	}
	waitVerified(t, c.Addr(1), plan, topic)
	t.Logf("move complete %v after --execute", time.Since(start).Round(time.Millisecond))
	out, ok := gregorStatus(t, "reassign", "--bootstrap-server", c.Addr(1), "--verify", "--reassignment-json-file", plan)
	if !ok || !strings.Contains(out, "Clearing broker-level throttles on brokers 1,2,3") || !strings.Contains(out, "Clearing topic-level throttles on topics slow") {
		t.Fatalf("--verify after the move (exit ok %v):\n%s", ok, out)
	}
	for _, path := range []string{"/config/brokers/1", "/config/brokers/2", "/config/brokers/3", "/config/topics/" + topic} {
		if got := znode(t, c, path); got != `{"version":1,"config":{}}` {
			t.Fatalf("%s after --verify = %s", path, got)
		}
	}
	if c := brokerConfig(t, ctx, adm, 2, "follower.replication.throttled.rate"); c.Key != "" {
		t.Fatalf("DescribeConfigs of broker 2 still has a throttle: %+v", c)
	}
	waitConverged(t, conn, topic, partition, 3, 60*time.Second)

	p.pause(t)
	n := checkTopic(t, c, adm, topic, partition, h)
	t.Logf("%d records acknowledged and read back once from every replica", n)
}

// preloadTopic writes n records of size bytes (incompressible), in batches of at most batch
// bytes, round-robin over the partitions, recording each acknowledgement in h.
func preloadTopic(t *testing.T, bootstrap, topic string, h *checker.History, n, size, batch int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchMaxBytes(int32(batch)),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rs := make([]*kgo.Record, n)
	for i := range rs {
		v := make([]byte, size)
		_, _ = rand.Read(v)
		rs[i] = &kgo.Record{Key: []byte(fmt.Sprintf("pre-%d", i)), Value: v}
	}
	for _, r := range cl.ProduceSync(ctx, rs...) {
		if r.Err != nil {
			t.Fatalf("preload: %v", r.Err)
		}
		h.Acked(checker.FromKgo(r.Record))
	}
}

// replicaBytes is the size of the topic's segment files on the given brokers.
func replicaBytes(t *testing.T, c *testcluster.Cluster, ids []int32, topic string) int64 {
	t.Helper()
	var n int64
	for _, id := range ids {
		files, _ := filepath.Glob(filepath.Join(c.Broker(id).DataDir, topic+"-*", "*.log"))
		for _, f := range files {
			if st, err := os.Stat(f); err == nil { // a segment may be deleted meanwhile
				n += st.Size()
			}
		}
	}
	return n
}

// znode reads a znode under the cluster's chroot.
func znode(t *testing.T, c *testcluster.Cluster, path string) string {
	t.Helper()
	data, _, err := c.ZKConn().Get(testcluster.Chroot + path)
	if err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	return string(data)
}

// brokerConfig is one key of a broker's DescribeConfigs (zero if not listed).
func brokerConfig(t *testing.T, ctx context.Context, adm *kadm.Client, id int32, key string) kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeBrokerConfigs(ctx, id)
	if err != nil || len(rcs) != 1 || rcs[0].Err != nil {
		t.Fatalf("DescribeConfigs of broker %d: %v %+v", id, err, rcs)
	}
	for _, cfg := range rcs[0].Configs {
		if cfg.Key == key {
			return cfg
		}
	}
	return kadm.Config{}
}
