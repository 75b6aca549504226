package zkmeta

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gregor-broker/gregor/internal/zktest"
)

func connect(t *testing.T, s *zktest.Server) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := Connect(ctx, s.Connect("/kafka"), 4*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestOperationsOnRealZooKeeper(t *testing.T) {
	s := zktest.Start(t)
	a, b := connect(t, s), connect(t, s)
	if err := a.EnsurePaths(); err != nil {
		t.Fatal(err)
	}
	raw := a.Conn()
	for _, p := range []string{"/kafka/brokers/ids", "/kafka/config/changes", "/kafka/admin/delete_topics", "/kafka/latest_producer_id_block"} {
		if ok, _, err := raw.Exists(p); !ok || err != nil {
			t.Fatalf("%s missing: %v", p, err)
		}
	}
	id1, err := a.GetOrCreateClusterID()
	if err != nil {
		t.Fatal(err)
	}
	if id2, _ := b.GetOrCreateClusterID(); id2 != id1 || len(id1) != 22 {
		t.Fatalf("cluster ids %q %q", id1, id2)
	}

	// Registration: ephemeral, dataVersion 1, epoch = czxid; a second holder is refused.
	info := BrokerInfo{ID: 1, Endpoints: []Endpoint{{"PLAINTEXT", "127.0.0.1", 9092, "PLAINTEXT"}}}
	epoch, err := a.RegisterBroker(info)
	if err != nil {
		t.Fatal(err)
	}
	_, st, _ := raw.Get("/kafka/brokers/ids/1")
	if st.EphemeralOwner != a.SessionID() || st.Version != 1 || st.Czxid != epoch {
		t.Fatalf("registration stat %+v epoch %d", st, epoch)
	}
	if _, err := b.RegisterBroker(info); !errors.Is(err, ErrBrokerIDInUse) {
		t.Fatalf("second registration: %v", err)
	}
	if err := b.WaitBrokerIDFree(1, 300*time.Millisecond); !errors.Is(err, ErrBrokerIDInUse) {
		t.Fatalf("wait on a live registration: %v", err)
	}

	// Election and fencing.
	e1, v1, err := a.Elect(1)
	if err != nil || e1 != 1 {
		t.Fatalf("first election: %d %v", e1, err)
	}
	if _, _, err := b.Elect(2); !errors.Is(err, ErrControllerMoved) {
		t.Fatalf("second candidate: %v", err)
	}
	topic := TopicAssignment{Topic: "t", TopicID: NewUUID(), Partitions: map[int32][]int32{0: {1}}}
	if err := a.CreateTopic(topic, map[string]string{"retention.ms": "5"}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateTopic(topic, nil); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("duplicate topic: %v", err)
	}
	if err := a.CreatePartitionState("t", 0, PartitionState{ControllerEpoch: e1, Leader: 1, ISR: []int32{1}}, &Fence{v1}); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteController(1); err != nil {
		t.Fatal(err)
	}
	e2, _, err := b.Elect(2)
	if err != nil || e2 != 2 {
		t.Fatalf("re-election: %d %v", e2, err)
	}
	st0, _ := a.GetPartitionState("t", 0)
	st0.Leader = 9
	if _, err := a.UpdatePartitionState("t", 0, st0, &Fence{v1}); !errors.Is(err, ErrControllerMoved) {
		t.Fatalf("write fenced by an old epoch: %v", err)
	}
	st0.ZkVersion = 7
	if _, err := b.UpdatePartitionState("t", 0, st0, nil); !errors.Is(err, ErrBadVersion) {
		t.Fatalf("stale partition epoch: %v", err)
	}

	// Config with its change notification.
	if err := a.SetTopicConfig("t", map[string]string{"retention.ms": "9"}); err != nil {
		t.Fatal(err)
	}
	names, _, _ := a.WatchConfigChanges()
	if len(names) != 1 {
		t.Fatalf("config changes %v", names)
	}
	if p, err := a.GetConfigChange(names[0]); err != nil || p != "topics/t" {
		t.Fatalf("change %q %v", p, err)
	}

	// Producer-id blocks, handed out in order by any broker.
	s1, e1b, _ := a.AllocateProducerIDBlock(1)
	s2, e2b, _ := b.AllocateProducerIDBlock(2)
	if s1 != 0 || e1b != 999 || s2 != 1000 || e2b != 1999 {
		t.Fatalf("blocks %d-%d %d-%d", s1, e1b, s2, e2b)
	}

	// Deletion removes the topic, its config and its marker.
	if err := a.MarkTopicForDeletion("t"); err != nil {
		t.Fatal(err)
	}
	_, v2, _ := b.ControllerEpoch()
	if err := b.DeleteTopic("t", &Fence{v2}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/kafka/brokers/topics/t", "/kafka/config/topics/t", "/kafka/admin/delete_topics/t"} {
		if ok, _, _ := raw.Exists(p); ok {
			t.Fatalf("%s still there", p)
		}
	}
}
