package group

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/replica"
)

// manualClock is a Clock that moves only when a test advances it; due timers run on the
// advancing goroutine, in deadline order.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	c       *manualClock
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.stopped || t.fired {
		return false
	}
	t.stopped = true
	return true
}

// Advance moves time forward by d, firing every timer that falls due (including timers armed
// by timers firing), each at its own deadline.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *manualTimer
		live := c.timers[:0]
		for _, t := range c.timers {
			if t.stopped || t.fired {
				continue
			}
			live = append(live, t)
			if !t.at.After(end) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		c.timers = live
		if next == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		if next.at.After(c.now) {
			c.now = next.at
		}
		next.fired = true
		c.mu.Unlock()
		next.f()
	}
}

// harness is a coordinator over a real log manager and replica manager in a temporary
// directory, leading every __consumer_offsets partition, on a manual clock.
type harness struct {
	t        testing.TB
	dir      string
	clock    *manualClock
	cfg      Config
	logs     *klog.Manager
	replicas *replica.Manager
	c        *Coordinator
	epoch    int32
}

const testPartitions = 3

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.MinSessionTimeoutMs = 1000
	cfg.InitialRebalanceDelayMs = 3000
	return cfg
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), clock: newManualClock(), cfg: cfg}
	h.open()
	t.Cleanup(h.close)
	return h
}

// open starts the storage stack and the coordinator and waits until every partition is loaded.
func (h *harness) open() {
	h.t.Helper()
	logs, err := klog.OpenManager(klog.ManagerOptions{Dirs: []string{h.dir}})
	if err != nil {
		h.t.Fatal(err)
	}
	h.logs = logs
	h.replicas = replica.NewManager(replica.Options{BrokerID: 1, Logs: logs,
		LogConfig: func(string) (klog.Config, int32, error) { return klog.DefaultConfig(), 1, nil }})
	h.c = New(Options{BrokerID: 1, Config: h.cfg, Replicas: h.replicas, Logs: logs,
		Partitions: func() int32 { return testPartitions }, Clock: h.clock})
	h.c.Start()
	h.epoch++
	var states []replica.PartitionState
	for p := int32(0); p < testPartitions; p++ {
		states = append(states, replica.PartitionState{Topic: OffsetsTopic, Partition: p, Leader: 1,
			LeaderEpoch: h.epoch, ISR: []int32{1}, Replicas: []int32{1}})
	}
	for tp, err := range h.replicas.BecomeLeaderOrFollower(1, states) {
		if err != nil {
			h.t.Fatalf("lead %s: %v", tp, err)
		}
	}
	for p := int32(0); p < testPartitions; p++ {
		h.c.OnElection(p, h.epoch)
	}
	for p := int32(0); p < testPartitions; p++ {
		h.waitLoaded(p)
	}
}

func (h *harness) close() {
	if h.c == nil {
		return
	}
	h.c.Shutdown()
	h.replicas.Shutdown()
	if err := h.logs.Close(); err != nil {
		h.t.Errorf("close logs: %v", err)
	}
	h.c = nil
}

// restart is a broker restart: everything closed and reopened over the same directory, once
// the writes already handed to write goroutines are done.
func (h *harness) restart() {
	h.t.Helper()
	h.flush()
	h.close()
	h.open()
}

// flush waits until every group's latest write has finished.
func (h *harness) flush() {
	h.t.Helper()
	h.c.mu.RLock()
	groups := make([]*Group, 0, len(h.c.groups))
	for _, g := range h.c.groups {
		groups = append(groups, g)
	}
	h.c.mu.RUnlock()
	var waits []chan struct{}
	for _, g := range groups {
		g.mu.Lock()
		if g.lastWrite != nil {
			waits = append(waits, g.lastWrite)
		}
		g.mu.Unlock()
	}
	for _, w := range waits {
		recv(h.t, w)
	}
}

func (h *harness) waitLoaded(p int32) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.c.mu.RLock()
		st := h.c.partitions[p]
		done := st != nil && !st.loading
		h.c.mu.RUnlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("partition %d not loaded", p)
		}
		time.Sleep(time.Millisecond)
	}
}

// join starts a JoinGroup and returns where its answer arrives.
func (h *harness) join(req JoinRequest) <-chan JoinResult {
	ch := make(chan JoinResult, 1)
	if req.ProtocolType == "" {
		req.ProtocolType = "consumer"
	}
	if req.Protocols == nil {
		req.Protocols = []Protocol{{Name: "range", Metadata: subscription("t")}}
	}
	if req.SessionTimeoutMs == 0 {
		req.SessionTimeoutMs = 10000
	}
	if req.RebalanceTimeoutMs == 0 {
		req.RebalanceTimeoutMs = 20000
	}
	if req.ClientID == "" {
		req.ClientID = "client"
	}
	h.c.joinGroup(req, func(r JoinResult) { ch <- r })
	return ch
}

func (h *harness) sync(req SyncRequest) <-chan SyncResult {
	ch := make(chan SyncResult, 1)
	h.c.syncGroup(req, func(r SyncResult) { ch <- r })
	return ch
}

// recv waits for one answer (writes complete on their own goroutines).
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no answer within 10s")
		panic("unreachable")
	}
}

// pending asserts nothing has been answered yet.
func pending[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s answered early: %+v", what, v)
	default:
	}
}

// stableGroup forms a group of the given members (dynamic, protocol "range") with the leader
// assigning each member its name as assignment, and returns the member ids and generation.
func (h *harness) stableGroup(group string, clients ...string) (map[string]string, int32) {
	h.t.Helper()
	chans := map[string]<-chan JoinResult{}
	for _, cl := range clients {
		chans[cl] = h.join(JoinRequest{GroupID: group, ClientID: cl})
	}
	// Members after the first extend the initial delay once (no one joins in the extension).
	h.clock.Advance(time.Duration(h.cfg.InitialRebalanceDelayMs) * time.Millisecond)
	if len(clients) > 1 {
		h.clock.Advance(time.Duration(h.cfg.InitialRebalanceDelayMs) * time.Millisecond)
	}
	ids := map[string]string{}
	var gen int32
	var leader string
	for _, cl := range clients {
		r := recv(h.t, chans[cl])
		if r.Err != nil {
			h.t.Fatalf("join %s: %v", cl, r.Err)
		}
		ids[cl], gen, leader = r.MemberID, r.GenerationID, r.LeaderID
	}
	assign := map[string][]byte{}
	for cl, id := range ids {
		assign[id] = []byte(cl)
	}
	var syncs []<-chan SyncResult
	for _, cl := range clients {
		req := SyncRequest{GroupID: group, MemberID: ids[cl], GenerationID: gen}
		if ids[cl] == leader {
			req.Assignments = assign
		}
		syncs = append(syncs, h.sync(req))
	}
	for i, ch := range syncs {
		r := recv(h.t, ch)
		if r.Err != nil || string(r.Assignment) != clients[i] {
			h.t.Fatalf("sync %s: %+v", clients[i], r)
		}
	}
	// The answers are sent from inside the write callback's critical section, which also arms
	// the session timers: taking the group's lock here waits for that section to end.
	if s := h.state(group); s != Stable {
		h.t.Fatalf("group %s after sync: %s", group, s)
	}
	return ids, gen
}

func (h *harness) state(group string) State {
	g := h.c.getGroup(group)
	if g == nil {
		return Dead
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state
}

// subscription encodes a consumer-protocol subscription (v0) to topics.
func subscription(topics ...string) []byte {
	b := []byte{0, 0, 0, 0, 0, byte(len(topics))}
	for _, t := range topics {
		b = append(b, 0, byte(len(t)))
		b = append(b, t...)
	}
	return append(b, 0xff, 0xff, 0xff, 0xff) // null user data
}

// records decodes every record of a __consumer_offsets partition's log.
func (h *harness) records(p int32) []Record {
	h.t.Helper()
	l := h.logs.Log(klog.TopicPartition{Topic: OffsetsTopic, Partition: p})
	if l == nil {
		return nil
	}
	data, err := l.Read(l.LogStartOffset(), 1<<30, -1, true)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []Record
	for pos := 0; pos < len(data); {
		hd, err := klog.ParseBatchHeader(data[pos:])
		if err != nil {
			h.t.Fatal(err)
		}
		_, recs, err := klog.DecodeRecords(data[pos : pos+hd.Size()])
		if err != nil {
			h.t.Fatal(err)
		}
		for _, r := range recs {
			rec, err := DecodeRecord(r.Key, r.Value)
			if err != nil {
				h.t.Fatal(err)
			}
			out = append(out, rec)
		}
		pos += hd.Size()
	}
	return out
}

func tp(topic string, p int32) klog.TopicPartition {
	return klog.TopicPartition{Topic: topic, Partition: p}
}

func commit(h *harness, req CommitRequest) []error {
	return h.c.CommitOffsets(context.Background(), req)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
