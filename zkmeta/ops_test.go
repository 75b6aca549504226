package zkmeta

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gregor-broker/gregor/internal/zktest"
)

func connect(t testing.TB, s *zktest.Server) *Client {
	t.Helper()
	// Generous: a freshly started JVM on a loaded 2-core CI machine can miss go-zookeeper's 1 s
	// handshake deadline for many seconds (seen at load 10: no session within 15 s). A deadline
	// is still a deadline; nothing here depends on the session timeout being short.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Connect(ctx, s.Connect("/kafka"), 10*time.Second)
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

	// Dynamic broker configs: per broker and the cluster default, each with its notification.
	if cfg, err := a.GetBrokerConfig("1"); err != nil || len(cfg) != 0 {
		t.Fatalf("missing broker config: %v %v", cfg, err)
	}
	if err := a.SetBrokerConfig("1", map[string]string{"leader.replication.throttled.rate": "10"}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetBrokerConfig(DefaultConfigEntity, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	data, _, err := a.conn.Get(a.p("/config/brokers/1"))
	if err != nil || string(data) != `{"version":1,"config":{"leader.replication.throttled.rate":"10"}}` {
		t.Fatalf("/config/brokers/1: %s %v", data, err)
	}
	data, _, err = a.conn.Get(a.p("/config/brokers/<default>"))
	if err != nil || string(data) != `{"version":1,"config":{}}` {
		t.Fatalf("/config/brokers/<default>: %s %v", data, err)
	}
	if cfg, err := b.GetBrokerConfig("1"); err != nil || cfg["leader.replication.throttled.rate"] != "10" {
		t.Fatalf("broker config read back: %v %v", cfg, err)
	}
	names, _, _ = a.WatchConfigChanges()
	sort.Strings(names)
	if len(names) != 3 {
		t.Fatalf("config changes %v", names)
	}
	for i, want := range []string{"brokers/1", "brokers/<default>"} {
		if p, err := a.GetConfigChange(names[i+1]); err != nil || p != want {
			t.Fatalf("change %s: %q %v, want %q", names[i+1], p, err, want)
		}
	}

	// Producer-id blocks, handed out in order by any broker.
	s1, e1b, _ := a.AllocateProducerIDBlock(1)
	s2, e2b, _ := b.AllocateProducerIDBlock(2)
	if s1 != 0 || e1b != 999 || s2 != 1000 || e2b != 1999 {
		t.Fatalf("blocks %d-%d %d-%d", s1, e1b, s2, e2b)
	}

	// Deletion removes the topic (its partition state znodes included), its config and its
	// marker — each seen to exist first, so "gone" is a change this call made.
	if err := a.MarkTopicForDeletion("t"); err != nil {
		t.Fatal(err)
	}
	exists := func(p string) bool {
		t.Helper()
		ok, _, err := raw.Exists(p)
		if err != nil {
			t.Fatalf("exists %s: %v", p, err)
		}
		return ok
	}
	doomed := []string{"/kafka/brokers/topics/t/partitions/0/state", "/kafka/brokers/topics/t/partitions", "/kafka/brokers/topics/t",
		"/kafka/config/topics/t", "/kafka/admin/delete_topics/t"}
	for _, p := range doomed {
		if !exists(p) {
			t.Fatalf("%s missing before the deletion", p)
		}
	}
	_, v2, err := b.ControllerEpoch()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteTopic("t", &Fence{v2}); err != nil {
		t.Fatal(err)
	}
	for _, p := range doomed {
		if exists(p) {
			t.Fatalf("%s still there", p)
		}
	}
	if !exists("/kafka/brokers/topics") || !exists("/kafka/admin/delete_topics") {
		t.Fatal("deleting a topic removed its parents")
	}
}

// TestUpdatePartitionStatesBatch: many states in fenced, all-or-nothing multis; a stale version
// anywhere in a batch writes nothing of it; an old controller epoch writes nothing at all.
func TestUpdatePartitionStatesBatch(t *testing.T) {
	s := zktest.Start(t)
	a := connect(t, s)
	if err := a.EnsurePaths(); err != nil {
		t.Fatal(err)
	}
	epoch, fence, err := a.Elect(1)
	if err != nil {
		t.Fatal(err)
	}
	defer func(old int) { maxStatesPerMulti = old }(maxStatesPerMulti)
	maxStatesPerMulti = 10
	n := int32(maxStatesPerMulti + 5) // two multis
	parts := map[int32][]int32{}
	for p := int32(0); p < n; p++ {
		parts[p] = []int32{1, 2}
	}
	if err := a.CreateTopic(TopicAssignment{Topic: "b", TopicID: NewUUID(), Partitions: parts}, nil); err != nil {
		t.Fatal(err)
	}
	var updates []StateUpdate
	for p := int32(0); p < n; p++ {
		st := PartitionState{ControllerEpoch: epoch, Leader: 1, ISR: []int32{1, 2}}
		if err := a.CreatePartitionState("b", p, st, &Fence{fence}); err != nil {
			t.Fatal(err)
		}
		st.Leader, st.LeaderEpoch, st.ISR = 2, 1, []int32{2}
		updates = append(updates, StateUpdate{Topic: "b", Partition: p, State: st})
	}
	versions, err := a.UpdatePartitionStates(updates, &Fence{fence})
	if err != nil || len(versions) != int(n) {
		t.Fatalf("batch: %d versions, %v", len(versions), err)
	}
	for _, p := range []int32{0, n - 1} {
		got, err := a.GetPartitionState("b", p)
		if err != nil || got.Leader != 2 || got.LeaderEpoch != 1 || got.ZkVersion != versions[p] || got.ZkVersion != 1 {
			t.Fatalf("partition %d after the batch: %+v %v", p, got, err)
		}
	}
	// A stale version in the second multi: the first multi's writes land and the second's do not,
	// whichever was sent first.
	for i := range updates {
		updates[i].State.ZkVersion, updates[i].State.LeaderEpoch = 1, 2
	}
	updates[n-1].State.ZkVersion = 0
	versions, err = a.UpdatePartitionStates(updates, &Fence{fence})
	if !errors.Is(err, ErrBadVersion) || len(versions) != int(n) {
		t.Fatalf("stale version: %d versions, %v", len(versions), err)
	}
	for i, v := range versions {
		if want := i < maxStatesPerMulti; (v != NotWritten) != want {
			t.Fatalf("stale version: update %d has version %d (written: %v, want %v)", i, v, v != NotWritten, want)
		}
	}
	if got, _ := a.GetPartitionState("b", n-2); got.LeaderEpoch != 1 {
		t.Fatalf("a state of the refused multi was written: %+v", got)
	}
	if got, _ := a.GetPartitionState("b", 0); got.LeaderEpoch != 2 {
		t.Fatalf("a state of the accepted multi was not written: %+v", got)
	}
	// An old controller epoch: nothing.
	if _, err := a.UpdatePartitionStates(updates[:1], &Fence{fence + 1}); !errors.Is(err, ErrControllerMoved) {
		t.Fatalf("old controller epoch: %v", err)
	}
}

// TestGetPartitionStates: the bulk read over a main and a reader session returns what the main
// session wrote just before, and nil for a partition without a state znode.
func TestGetPartitionStates(t *testing.T) {
	s := zktest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Connect(ctx, s.Connect("/kafka"), 10*time.Second, WithReaderSessions(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.EnsurePaths(); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTopic(TopicAssignment{Topic: "bulk", Partitions: map[int32][]int32{0: {1}, 1: {1}, 2: {1}}}, nil); err != nil {
		t.Fatal(err)
	}
	const n = 200
	parts := make([]int32, n)
	states := make([]PartitionState, n)
	for i := range parts {
		parts[i] = int32(i)
		states[i] = PartitionState{ControllerEpoch: 1, Leader: 1, LeaderEpoch: int32(i), ISR: []int32{1}}
	}
	if _, err := c.CreatePartitionStates("bulk", parts, states, nil); err != nil {
		t.Fatal(err)
	}
	refs := []PartitionRef{{Topic: "bulk", Partition: n}, {Topic: "absent", Partition: 0}}
	for _, p := range parts {
		refs = append(refs, PartitionRef{Topic: "bulk", Partition: p})
	}
	got := c.GetPartitionStates(refs)
	if got[0] != nil || got[1] != nil {
		t.Fatalf("states of partitions without a znode: %+v %+v", got[0], got[1])
	}
	for i, st := range got[2:] {
		if st == nil || st.LeaderEpoch != int32(i) || st.ZkVersion != 0 {
			t.Fatalf("partition %d: %+v, want leader epoch %d at zkVersion 0", i, st, i)
		}
	}
}

// heldConn is a connection whose writes, while held, are taken and dropped: a request that
// went out and will never be answered, as on a connection that died under it. A dropped
// getData request (opcode 4, after the length and xid) is reported on dropped.
type heldConn struct {
	net.Conn
	held    *atomic.Bool
	dropped chan<- struct{}
}

func (h heldConn) Write(p []byte) (int, error) {
	if !h.held.Load() {
		return h.Conn.Write(p)
	}
	if len(p) >= 12 && binary.BigEndian.Uint32(p[8:12]) == 4 {
		select {
		case h.dropped <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// TestReadWaitsForTheConnection: a read whose connection dies under it (the request sent, no
// answer, then the socket gone, as when a broker resumes after a pause longer than the receive
// timeout) is sent again on the next connection (retryRead) and returns what the znode holds.
// Without the retry it fails with zk.ErrConnectionClosed, which a LeaderAndIsr reading a topic's
// config reported as a storage error.
func TestReadWaitsForTheConnection(t *testing.T) {
	s := zktest.Start(t)
	var held atomic.Bool
	dropped := make(chan struct{}, 1)
	var mu sync.Mutex
	var last net.Conn
	dialer := func(network, addr string, timeout time.Duration) (net.Conn, error) {
		nc, err := net.DialTimeout(network, addr, timeout)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		last = nc
		mu.Unlock()
		return heldConn{Conn: nc, held: &held, dropped: dropped}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Connect(ctx, s.Connect("/kafka"), 30*time.Second, WithDialer(dialer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.EnsurePaths(); err != nil {
		t.Fatal(err)
	}
	if err := c.SetTopicConfig("t", map[string]string{"retention.ms": "1000"}); err != nil {
		t.Fatal(err)
	}
	type result struct {
		cfg map[string]string
		err error
	}
	done := make(chan result, 1)
	held.Store(true)
	go func() { // owned by this test: it waits for the result below
		cfg, err := c.GetTopicConfig("t")
		done <- result{cfg, err}
	}()
	select {
	case <-dropped:
	case <-time.After(30 * time.Second):
		t.Fatal("the read's request was never written")
	}
	held.Store(false)
	mu.Lock()
	_ = last.Close() // the connection dies with the request unanswered
	mu.Unlock()
	select {
	case r := <-done:
		if r.err != nil || r.cfg["retention.ms"] != "1000" {
			t.Fatalf("read across a lost connection: %v, %v", r.cfg, r.err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("read still waiting 60 s after its connection was lost")
	}
}
