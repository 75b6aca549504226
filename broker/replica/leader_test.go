package replica

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// fakeClock is the ISR tracking's clock, moved by the test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newClockedManager(t *testing.T, minISR int32, clock *fakeClock) *Manager {
	t.Helper()
	logs, err := klog.OpenManager(klog.ManagerOptions{Dirs: []string{t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logs.Close() })
	m := NewManager(Options{BrokerID: me, Logs: logs, Now: clock.Now, ReplicaLagTimeMax: time.Hour,
		LogConfig: func(string) (klog.Config, int32, error) { return klog.DefaultConfig(), minISR, nil }})
	t.Cleanup(m.Shutdown)
	return m
}

func followerFetch(m *Manager, replica int32, offset int64, lastEpoch int32) FetchResult {
	return m.Fetch(context.Background(), FetchParams{ReplicaID: replica, MaxBytes: 1 << 20,
		Partitions: []FetchPartition{{TP: tp, Offset: offset, MaxBytes: 1 << 20, CurrentLeaderEpoch: -1, LastFetchedEpoch: lastEpoch}}})[0]
}

func (m *Manager) part(t *testing.T) *Partition {
	t.Helper()
	p, err := m.partition(tp)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFollowerFetchDivergence: the leader answers a follower's LastFetchedEpoch with Kafka's
// epoch arithmetic — a diverging epoch when its log ends that epoch before the fetch offset or
// knows only an older one, records otherwise, OFFSET_OUT_OF_RANGE beyond its log end.
func TestFollowerFetchDivergence(t *testing.T) {
	m := newClockedManager(t, 1, &fakeClock{now: time.Unix(1000, 0)})
	lead(t, m, 0, []int32{me}, []int32{me, 2})
	produce(t, m, 1, "a", "b", "c")            // epoch 0: offsets 0..2
	lead(t, m, 2, []int32{me}, []int32{me, 2}) // epoch 2 starts at 3
	produce(t, m, 1, "d", "e")                 // offsets 3..4
	for _, tc := range []struct {
		name       string
		offset     int64
		lastEpoch  int32
		diverging  bool
		epoch      int32
		end        int64
		records    bool
		outOfRange bool
	}{
		{"follower led epoch 1 past the leader's epoch 0", 4, 1, true, 0, 3, false, false},
		{"follower has epoch 0 beyond where it ended here", 4, 0, true, 0, 3, false, false},
		{"follower at the end of epoch 0", 3, 0, false, 0, 0, true, false},
		{"follower in the current epoch", 4, 2, false, 0, 0, true, false},
		{"no epoch given", 1, -1, false, 0, 0, true, false},
		{"beyond the log end, in the current epoch: truncate to its end", 6, 2, true, 2, 5, false, false},
		{"beyond the log end, no epoch", 6, -1, false, 0, 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := followerFetch(m, 2, tc.offset, tc.lastEpoch)
			if tc.outOfRange {
				if !errors.Is(r.Err, klog.ErrOffsetOutOfRange) {
					t.Fatalf("got %+v, want OFFSET_OUT_OF_RANGE", r)
				}
				return
			}
			if r.Err != nil || r.Diverging != tc.diverging || (tc.diverging && (r.DivergingEpoch != tc.epoch || r.DivergingEndOffset != tc.end)) ||
				(len(r.Records) > 0) != tc.records {
				t.Fatalf("got err %v diverging %v (%d, %d) %d bytes", r.Err, r.Diverging, r.DivergingEpoch, r.DivergingEndOffset, len(r.Records))
			}
		})
	}
	if r := followerFetch(m, 3, 0, -1); !errors.Is(r.Err, ErrNotLeaderOrFollower) {
		t.Fatalf("a broker that is no replica fetching: %v", r.Err)
	}
}

// TestISRExpansionAndShrink: a follower that reaches the high watermark is proposed into the ISR,
// which changes only when the controller's answer is applied; one that stops fetching for
// replica.lag.time.max.ms is proposed out; while a shrink is pending the high watermark waits
// for the larger ISR. A stale answer (older leader epoch) changes nothing.
func TestISRExpansionAndShrink(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	m := newClockedManager(t, 1, clock)
	lead(t, m, 0, []int32{me}, []int32{me, 2})
	produce(t, m, 1, "a", "b")
	p := m.part(t)
	pending := func() []int32 { p.mu.Lock(); defer p.mu.Unlock(); return p.pendingISR }
	isr := func() []int32 { p.mu.Lock(); defer p.mu.Unlock(); return append([]int32(nil), p.isr...) }

	followerFetch(m, 2, 0, -1) // behind the high watermark (2): not proposed
	if pending() != nil {
		t.Fatalf("proposed %v for a follower behind the high watermark", pending())
	}
	followerFetch(m, 2, 2, -1) // caught up
	if got := pending(); !sameIDs(got, []int32{me, 2}) {
		t.Fatalf("pending ISR %v, want [%d 2]", got, me)
	}
	if got := isr(); !sameIDs(got, []int32{me}) {
		t.Fatalf("ISR changed before the controller answered: %v", got)
	}
	// A stale answer (an older leader epoch) is ignored.
	m.applyAlterISR(alterItem{p: p, tp: tp, leaderEpoch: -5, isr: []int32{me, 2}}, AlterISRResult{LeaderEpoch: -5, ISR: []int32{me, 2}})
	if got := isr(); !sameIDs(got, []int32{me}) {
		t.Fatalf("a stale answer changed the ISR to %v", got)
	}
	m.applyAlterISR(alterItem{p: p, tp: tp, leaderEpoch: 0, isr: []int32{me, 2}},
		AlterISRResult{Leader: me, LeaderEpoch: 0, ISR: []int32{me, 2}, PartitionEpoch: 7})
	if got := isr(); !sameIDs(got, []int32{me, 2}) || pending() != nil {
		t.Fatalf("after the answer: ISR %v pending %v", got, pending())
	}
	p.mu.Lock()
	epoch := p.partitionEpoch
	p.mu.Unlock()
	if epoch != 7 {
		t.Fatalf("partition epoch %d, want the controller's 7", epoch)
	}

	// The follower falls silent: after the lag time it is proposed out.
	produce(t, m, 1, "c") // log end 3; the follower last fetched at 2
	clock.advance(30 * time.Minute)
	m.shrinkISRs(time.Hour)
	if pending() != nil {
		t.Fatalf("proposed %v before the lag time passed", pending())
	}
	clock.advance(31 * time.Minute)
	m.shrinkISRs(time.Hour)
	if got := pending(); !sameIDs(got, []int32{me}) {
		t.Fatalf("pending ISR %v after the lag time, want [%d]", got, me)
	}
	// Until the controller answers, the high watermark still waits for the follower.
	if hw := m.o.Logs.Log(tp).HighWatermark(); hw != 2 {
		t.Fatalf("high watermark %d moved past the silent follower during a pending shrink", hw)
	}
	m.applyAlterISR(alterItem{p: p, tp: tp, leaderEpoch: 0, isr: []int32{me}},
		AlterISRResult{Leader: me, LeaderEpoch: 0, ISR: []int32{me}, PartitionEpoch: 8})
	if hw := m.o.Logs.Log(tp).HighWatermark(); hw != 3 {
		t.Fatalf("high watermark %d after the shrink, want 3", hw)
	}
}

// TestAcksAllAfterISRShrink: a produce that waited while the ISR shrank below
// min.insync.replicas is answered NOT_ENOUGH_REPLICAS_AFTER_APPEND.
func TestAcksAllAfterISRShrink(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	m := newClockedManager(t, 2, clock)
	lead(t, m, 0, []int32{me, 2}, []int32{me, 2})
	p := m.part(t)
	done := make(chan ProduceResult, 1)
	go func() { done <- produce(t, m, -1, "x") }()
	for deadline := time.Now().Add(30 * time.Second); m.o.Logs.Log(tp).LogEndOffset() != 1; {
		if time.Now().After(deadline) {
			t.Fatal("never appended")
		}
		time.Sleep(time.Millisecond) // polling the log end the producing goroutine moves
	}
	clock.advance(2 * time.Hour)
	m.shrinkISRs(time.Hour)
	m.applyAlterISR(alterItem{p: p, tp: tp, leaderEpoch: 0, isr: []int32{me}},
		AlterISRResult{Leader: me, LeaderEpoch: 0, ISR: []int32{me}, PartitionEpoch: 1})
	select {
	case r := <-done:
		if !errors.Is(r.Err, ErrNotEnoughReplicasAfterAppend) {
			t.Fatalf("got %v, want NOT_ENOUGH_REPLICAS_AFTER_APPEND", r.Err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the produce was not answered after the shrink")
	}
}

// TestSameEpochNewerPartitionEpoch: a LeaderAndIsr for the current leader epoch is applied when
// its partition epoch (the state znode's zkVersion) is newer — the ISR and the epoch AlterIsr
// must name move — and refused as stale otherwise.
func TestSameEpochNewerPartitionEpoch(t *testing.T) {
	m := newClockedManager(t, 1, &fakeClock{now: time.Unix(1000, 0)})
	state := func(pe int32, isr []int32) error {
		return m.BecomeLeaderOrFollower(1, []PartitionState{{Topic: "t", Partition: 0, Leader: me, LeaderEpoch: 4,
			PartitionEpoch: pe, ISR: isr, Replicas: []int32{me, 2}}})[tp]
	}
	if err := state(3, []int32{me}); err != nil {
		t.Fatal(err)
	}
	produce(t, m, 1, "a")
	if err := state(5, []int32{me, 2}); err != nil {
		t.Fatalf("newer partition epoch refused: %v", err)
	}
	p := m.part(t)
	p.mu.Lock()
	isr, pe, epoch := append([]int32(nil), p.isr...), p.partitionEpoch, p.leaderEpoch
	p.mu.Unlock()
	if !sameIDs(isr, []int32{me, 2}) || pe != 5 || epoch != 4 {
		t.Fatalf("after the update: ISR %v partition epoch %d leader epoch %d", isr, pe, epoch)
	}
	if err := state(5, []int32{me}); !errors.Is(err, ErrStaleControllerEpoch) {
		t.Fatalf("same partition epoch again: %v", err)
	}
	if got := m.o.Logs.Log(tp).LatestEpoch(); got != 4 {
		t.Fatalf("the epoch cache moved to %d on a same-epoch update", got)
	}
}
