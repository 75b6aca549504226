package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestTopicDeletionWaitsForDownBroker: a topic deleted while one of its replicas' brokers is
// down stays marked for deletion (Kafka's ineligible replicas) and is removed everywhere — its
// znodes and every broker's partition directories, the returning broker's included — once that
// broker is back.
func TestTopicDeletionWaitsForDownBroker(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 3})
	adm := newAdmin(t, c.Bootstrap())
	const topic = "doomed"
	createReplicated(t, adm, topic, 2, 3, nil)
	conn := c.ZKConn()
	waitConverged(t, conn, topic, 2, 3, 60*time.Second)
	waitMetadata(t, c, []int32{1, 2, 3}, topic, 2, 3)
	produceValues(t, context.Background(), c.Addr(1), topic, kgo.AllISRAcks(), "d", 10)
	dirs := func(id int32) []string {
		var out []string
		for p := 0; p < 2; p++ {
			d := filepath.Join(c.Broker(id).DataDir, fmt.Sprintf("%s-%d", topic, p))
			if _, err := os.Stat(d); err == nil {
				out = append(out, d)
			}
		}
		return out
	}
	for id := int32(1); id <= 3; id++ {
		if len(dirs(id)) != 2 {
			t.Fatalf("broker %d holds %v before the deletion", id, dirs(id))
		}
	}

	c.Kill(3)
	c.WaitDeregistered(3, 60*time.Second)
	// The request is accepted (the marker is written); the deletion itself waits for broker 3,
	// so the request's own wait for it runs out: its answer does not matter here.
	// 10 s (not less) so that a loaded machine still gets the request to the controller.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = adm.DeleteTopics(ctx, topic)
	marker := testcluster.Chroot + "/admin/delete_topics/" + topic
	waitZnode(t, conn, marker, 30*time.Second)
	if ok, _, err := conn.Exists(testcluster.Chroot + "/brokers/topics/" + topic); err != nil || !ok {
		t.Fatalf("the topic was removed from ZooKeeper with a replica's broker down (%v)", err)
	}

	c.StartBroker(3)
	c.WaitRegistered(3, 60*time.Second)
	waitGone(t, conn, testcluster.Chroot+"/brokers/topics/"+topic, 90*time.Second)
	waitGone(t, conn, marker, 30*time.Second)
	for deadline := time.Now().Add(60 * time.Second); ; {
		left := append(append(dirs(1), dirs(2)...), dirs(3)...)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition directories left after the deletion: %v", left)
		}
		time.Sleep(100 * time.Millisecond) // polling directories the brokers remove
	}
}

// waitGone watches path until it no longer exists.
func waitGone(t *testing.T, conn *zk.Conn, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		ok, _, ev, err := conn.ExistsW(path)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		select {
		case <-ev:
		case <-deadline:
			t.Fatalf("%s still exists after %v", path, timeout)
		}
	}
}
