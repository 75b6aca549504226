package e2e

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-broker/gregor/internal/checker"
	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestTopicWrittenIntoZooKeeperIsPickedUp: a topic created by writing its assignment JSON
// straight into ZooKeeper — as Kafka 2.x's `kafka-topics.sh --zookeeper` or a person with zkCli
// does, version 1 and without a topic id — is noticed by the controller, which adds a topic id,
// creates the partitions' state znodes, and makes the broker lead them: clients can use it.
func TestTopicWrittenIntoZooKeeperIsPickedUp(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1})
	conn := c.ZKConn()
	acl := zk.WorldACL(zk.PermAll)
	if _, err := conn.Create("/kafka/config/topics/handmade", []byte(`{"version":1,"config":{}}`), 0, acl); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Create("/kafka/brokers/topics/handmade", []byte(`{"version":1,"partitions":{"0":[1],"1":[1]}}`), 0, acl); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"0", "1"} {
		waitZnode(t, conn, "/kafka/brokers/topics/handmade/partitions/"+p+"/state", 30*time.Second)
	}
	data, _, err := conn.Get("/kafka/brokers/topics/handmade")
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^\{"partitions":\{"0":\[1\],"1":\[1\]\},"topic_id":"[A-Za-z0-9_-]{22}","adding_replicas":\{\},"removing_replicas":\{\},"version":3\}$`)
	if !want.Match(data) {
		t.Fatalf("controller did not rewrite the topic with a topic id: %s", data)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.DefaultProduceTopic("handmade"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := checker.New(checker.Options{Idempotent: true})
	for i := 0; i < 10; i++ {
		res := cl.ProduceSync(ctx, &kgo.Record{Key: []byte{byte(i)}, Value: []byte(fmt.Sprintf("hand made %d", i))})
		if err := res.FirstErr(); err != nil {
			t.Fatalf("produce to a zk-created topic: %v", err)
		}
		h.Acked(checker.FromKgo(res[0].Record))
	}
	// Exactly the ten records, each once, intact, from both partitions.
	read, err := checker.ReadAll(ctx, c.Bootstrap(), "handmade")
	if err != nil {
		t.Fatal(err)
	}
	if rep := h.Check(read); rep.Err() != nil {
		t.Fatal(rep.Err())
	} else if rep.Read != 10 {
		t.Fatalf("read %d records back, want 10", rep.Read)
	}
}

// waitZnode waits, on exists watches, until path exists.
func waitZnode(t *testing.T, conn *zk.Conn, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		ok, _, ev, err := conn.ExistsW(path)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		select {
		case <-ev:
		case <-deadline:
			t.Fatalf("%s not created within %v", path, timeout)
		}
	}
}
