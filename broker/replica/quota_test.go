package replica

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// TestQuotaRate: Kafka's Rate over 11 one-second samples — the bytes of the samples younger than
// 11 s over the time since the oldest began, never less than 10 s.
func TestQuotaRate(t *testing.T) {
	type step struct {
		at     time.Duration // since the start
		record int           // bytes recorded at that time (0: none)
		want   float64       // rate measured then
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"nothing recorded", []step{{0, 0, 0}, {30 * time.Second, 0, 0}}},
		{"a burst reads as spread over 10 s", []step{{0, 1000, 100}, {5 * time.Second, 0, 100}, {10 * time.Second, 0, 100}}},
		{"past 10 s the real elapsed time counts", []step{{0, 1000, 100}, {10500 * time.Millisecond, 0, 1000 / 10.5}, {12500 * time.Millisecond, 0, 0}}},
		{"a sample expires 11 windows after it started", []step{{0, 1000, 100}, {10999 * time.Millisecond, 0, 1000 / 10.999}, {11 * time.Second, 0, 0}}},
		{"a new window starts after a full one", []step{
			{0, 500, 50}, {999 * time.Millisecond, 500, 1000 / 10.999}, // same window: 999 ms padded by 10 windows
			{time.Second, 1000, 200},   // second window
			{11 * time.Second, 0, 100}, // the first expired, the second (from 1 s) is 10 s old
		}},
		{"steady 100 B per window", func() []step {
			var s []step
			for i := 0; i < 30; i++ {
				s = append(s, step{time.Duration(i) * time.Second, 100, 0})
			}
			// At 29 s the samples of 19..29 s are kept (11 × 100 B) over 10 s since 19 s.
			return append(s, step{29 * time.Second, 0, 110})
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1000, 0)}
			start := clock.Now()
			q := newQuota(clock.Now, 11, time.Second)
			for i, s := range tc.steps {
				clock.mu.Lock()
				clock.now = start.Add(s.at)
				clock.mu.Unlock()
				q.record(s.record)
				if s.want == 0 && s.record > 0 {
					continue // a step that only records
				}
				if got := q.rate(); math.Abs(got-s.want) > 1e-9 {
					t.Fatalf("step %d (%v): rate %v, want %v", i, s.at, got, s.want)
				}
			}
		})
	}
}

// TestQuotaThrottles: a partition is held back only when it is throttled, its replica is out of
// sync, and the measured rate is above the bound (equal is still acceptable, as Kafka's upper
// bound Quota).
func TestQuotaThrottles(t *testing.T) {
	p0 := klog.TopicPartition{Topic: "t", Partition: 0}
	p1 := klog.TopicPartition{Topic: "t", Partition: 1}
	other := klog.TopicPartition{Topic: "u", Partition: 0}
	for _, tc := range []struct {
		name      string
		bound     int64
		recorded  int // bytes recorded at the start: rate = recorded / 10 s
		throttled map[string]Throttled
		tp        klog.TopicPartition
		inSync    bool
		want      bool
	}{
		{"throttled, out of sync, over the rate", 100, 1001, map[string]Throttled{"t": {Partitions: []int32{0}}}, p0, false, true},
		{"at the rate exactly", 100, 1000, map[string]Throttled{"t": {Partitions: []int32{0}}}, p0, false, false},
		{"in sync", 100, 5000, map[string]Throttled{"t": {Partitions: []int32{0}}}, p0, true, false},
		{"another partition of the topic", 100, 5000, map[string]Throttled{"t": {Partitions: []int32{0}}}, p1, false, false},
		{"all partitions", 100, 5000, map[string]Throttled{"t": {All: true}}, p1, false, true},
		{"another topic", 100, 5000, map[string]Throttled{"t": {All: true}}, other, false, false},
		{"no bound", UnlimitedRate, 1 << 40, map[string]Throttled{"t": {All: true}}, p0, false, false},
		{"throttle removed", 100, 5000, map[string]Throttled{"t": {}}, p0, false, false},
		{"zero rate holds back from the first byte", 0, 1, map[string]Throttled{"t": {All: true}}, p0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1000, 0)}
			q := newQuota(clock.Now, 11, time.Second)
			q.setBound(tc.bound)
			q.markThrottled("t", Throttled{All: true})
			for topic, th := range tc.throttled {
				q.markThrottled(topic, th)
			}
			q.record(tc.recorded)
			if got := q.throttles(tc.tp, tc.inSync); got != tc.want {
				t.Fatalf("throttles = %v, want %v (rate %v)", got, tc.want, q.rate())
			}
		})
	}
}

// TestQuotaLongRun: a catch-up that sends a chunk whenever the quota allows it sends, in any
// 10 s, at most 11 s worth of the bound plus one chunk — the samples of the last 11 windows hold
// every byte of the last 10 s, and a send is allowed only while they sum to at most the bound
// times at most 11 s — and over a long run close to the bound: the throttle limits the
// average without stopping the catch-up.
func TestQuotaLongRun(t *testing.T) {
	const (
		bound = 100 << 10 // 100 KiB/s
		chunk = 64 << 10
		tick  = 50 * time.Millisecond
		run   = 120 * time.Second
	)
	clock := &fakeClock{now: time.Unix(1000, 0)}
	start := clock.Now()
	q := newQuota(clock.Now, 11, time.Second)
	q.setBound(bound)
	q.markThrottled("t", Throttled{All: true})
	tp := klog.TopicPartition{Topic: "t", Partition: 0}
	var sends []time.Duration // when each chunk went
	for clock.Now().Sub(start) < run {
		now := clock.Now().Sub(start)
		if !q.throttles(tp, false) {
			q.record(chunk)
			sends = append(sends, now)
		}
		recent := 0
		for _, at := range sends {
			if at > now-10*time.Second {
				recent += chunk
			}
		}
		if limit := 11*bound + chunk; recent > limit {
			t.Fatalf("at %v: %d bytes in the last 10 s, above %d", now, recent, limit)
		}
		clock.advance(tick)
	}
	avg := float64(len(sends)*chunk) / run.Seconds()
	if avg < 0.8*bound || avg > 1.2*bound {
		t.Fatalf("average %.0f B/s over %v with a %d B/s throttle", avg, run, bound)
	}
	t.Logf("average %.0f B/s over %v with a %d B/s throttle", avg, run, bound)
}

// TestLeaderThrottle: a leader answers a throttled follower outside the ISR without records
// once the leader quota is exceeded — but still with its high watermark — while a follower in
// the ISR and an unthrottled partition get records; the throttled bytes are counted, and the
// window passing lets the follower fetch again.
func TestLeaderThrottle(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	m := newClockedManager(t, 1, clock)
	lead(t, m, 0, []int32{me, 2}, []int32{me, 2, 3})
	produce(t, m, 1, "a", "b", "c")
	m.SetThrottleRates(1, UnlimitedRate) // 1 B/s: the first batch, over 10 s, already exceeds it
	m.SetTopicThrottles("t", Throttled{All: true}, Throttled{})

	r := followerFetch(m, 3, 0, -1)
	if r.Err != nil || len(r.Records) == 0 {
		t.Fatalf("first fetch of the out-of-sync follower: %+v", r)
	}
	sent := len(r.Records)
	if got := testutil.ToFloat64(m.quotas.leaderBytes); got != float64(sent) {
		t.Fatalf("throttled bytes counted %v, want %d", got, sent)
	}
	r = followerFetch(m, 3, 0, -1)
	if r.Err != nil || len(r.Records) != 0 || r.HighWatermark < 0 || r.LogStartOffset != 0 {
		t.Fatalf("out-of-sync follower over the quota: %+v", r)
	}
	if r := followerFetch(m, 2, 0, -1); r.Err != nil || len(r.Records) == 0 {
		t.Fatalf("in-sync follower held back: %+v", r)
	}
	if got := testutil.ToFloat64(m.quotas.leaderBytes); got != float64(2*sent) {
		t.Fatalf("an in-sync follower's throttled bytes count too: %v, want %d", got, 2*sent)
	}

	m.SetTopicThrottles("t", Throttled{Partitions: []int32{7}}, Throttled{})
	if r := followerFetch(m, 3, 0, -1); r.Err != nil || len(r.Records) == 0 {
		t.Fatalf("unthrottled partition held back: %+v", r)
	}
	m.SetTopicThrottles("t", Throttled{Partitions: []int32{0}}, Throttled{})
	if r := followerFetch(m, 3, 0, -1); len(r.Records) != 0 {
		t.Fatalf("throttled again, still over the quota: %+v", r)
	}
	clock.advance(11 * time.Second) // every sample expires
	if r := followerFetch(m, 3, 0, -1); len(r.Records) == 0 {
		t.Fatalf("the window passed, still held back: %+v", r)
	}
	m.SetThrottleRates(UnlimitedRate, UnlimitedRate)
	if r := followerFetch(m, 3, 0, -1); len(r.Records) == 0 {
		t.Fatalf("throttle removed, still held back: %+v", r)
	}
	if l, f := m.ThrottleRates(); l != UnlimitedRate || f != UnlimitedRate {
		t.Fatalf("rates %d %d", l, f)
	}
}

// TestFollowerThrottle: a follower's fetcher leaves out the throttled partitions that have not
// caught up while the follower quota is exceeded, keeps the others, and when it holds back every
// ready partition waits replica.fetch.backoff.ms before it looks again.
func TestFollowerThrottle(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	m := newClockedManager(t, 1, clock)
	const leader = 2
	mk := func(part int32, caughtUp bool) *fetchSlot {
		l, err := m.o.Logs.GetOrCreateLog(klog.TopicPartition{Topic: "t", Partition: part}, klog.DefaultConfig(), [16]byte{})
		if err != nil {
			t.Fatal(err)
		}
		p := newPartition(klog.TopicPartition{Topic: "t", Partition: part}, me)
		p.log, p.leader = l, leader
		return &fetchSlot{p: p, caughtUp: caughtUp}
	}
	f := &fetcher{m: m, key: fetcherKey{source: leader}, parts: map[klog.TopicPartition]*fetchSlot{}}
	for _, s := range []*fetchSlot{mk(0, false), mk(1, true), mk(2, false)} {
		f.parts[s.p.tp] = s
	}
	fetched := func() map[int32]bool {
		items, _ := f.build()
		out := map[int32]bool{}
		for _, it := range items {
			out[it.p.tp.Partition] = true
		}
		return out
	}
	m.SetThrottleRates(UnlimitedRate, 10)
	m.SetTopicThrottles("t", Throttled{}, Throttled{Partitions: []int32{0, 1}})
	if got := fetched(); len(got) != 3 {
		t.Fatalf("under the quota: fetching %v, want all three", got)
	}
	f.afterFetch(klog.TopicPartition{Topic: "t", Partition: 0}, &fetchItem{p: f.parts[klog.TopicPartition{Topic: "t", Partition: 0}].p}, 1000, 50)
	if got := testutil.ToFloat64(m.quotas.followerBytes); got != 1000 {
		t.Fatalf("follower throttled bytes %v", got)
	}
	if got := fetched(); got[0] || !got[1] || !got[2] {
		t.Fatalf("over the quota: fetching %v, want 1 (caught up) and 2 (unthrottled)", got)
	}
	delete(f.parts, klog.TopicPartition{Topic: "t", Partition: 1})
	delete(f.parts, klog.TopicPartition{Topic: "t", Partition: 2})
	items, wait := f.build()
	if len(items) != 0 || wait != m.o.Fetch.Backoff {
		t.Fatalf("everything held back: %d items, wait %v, want replica.fetch.backoff.ms %v", len(items), wait, m.o.Fetch.Backoff)
	}
	clock.advance(11 * time.Second)
	if got := fetched(); !got[0] {
		t.Fatalf("the window passed: fetching %v", got)
	}
}
