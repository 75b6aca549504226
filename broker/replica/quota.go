package replica

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// Replication throttles, as Kafka's ReplicationQuotaManager: a leader quota (bytes this broker
// sends followers, leader.replication.throttled.rate) and a follower quota (bytes it fetches as a
// follower, follower.replication.throttled.rate), each applying only to the partitions a topic's
// leader/follower.replication.throttled.replicas name for this broker. While a quota's measured
// rate of throttled bytes is above its bound, the leader answers a throttled partition's fetch
// by a follower outside the ISR without records, and the follower leaves such partitions out of
// its fetches; unthrottled partitions, and followers in sync, are never held back. Every
// throttled byte counts towards the rate, in sync or not.

// UnlimitedRate is the rate of a quota without a bound (Kafka's Long.MaxValue).
const UnlimitedRate int64 = 1<<63 - 1

// Kafka's ReplicationQuotaManagerConfig defaults: replication.quota.window.num and
// replication.quota.window.size.seconds.
const (
	defaultQuotaWindows    = 11
	defaultQuotaWindowSize = time.Second
)

// Throttled names the partitions of one topic a quota applies to: all of them, or a list.
type Throttled struct {
	All        bool
	Partitions []int32
}

func (t Throttled) empty() bool { return !t.All && len(t.Partitions) == 0 }

// quota is one ReplicationQuotaManager: the throttled partitions and a sampled rate (Kafka's
// Rate over a SampledStat) of the throttled bytes recorded. Its mu is a leaf: it is taken
// under Partition.mu and never held while taking another lock.
type quota struct {
	now    func() time.Time
	window int64 // ms per sample
	n      int   // samples kept

	// any: some topic is throttled — read without mu, so the fetch paths of a broker without
	// throttles never take it.
	any atomic.Bool

	mu        sync.Mutex // guards every field below
	bound     int64      // bytes/s
	samples   []rateSample
	current   int
	throttled map[string]throttledSet
}

type throttledSet struct {
	all   bool
	parts map[int32]bool
}

// rateSample is one window of the rate: its start and the bytes recorded in it.
type rateSample struct {
	start int64 // ms
	value float64
}

func newQuota(now func() time.Time, windows int, size time.Duration) *quota {
	if windows <= 0 {
		windows = defaultQuotaWindows
	}
	if size <= 0 {
		size = defaultQuotaWindowSize
	}
	return &quota{now: now, window: max(size.Milliseconds(), 1), n: windows, bound: UnlimitedRate,
		throttled: map[string]throttledSet{}}
}

func (q *quota) nowMs() int64 { return q.now().UnixMilli() }

// setBound changes the rate; the samples are kept, as Kafka's updateQuota keeps its sensor.
func (q *quota) setBound(bytesPerSec int64) {
	q.mu.Lock()
	q.bound = bytesPerSec
	q.mu.Unlock()
}

func (q *quota) getBound() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bound
}

// markThrottled sets the partitions of topic the quota applies to (none: removeThrottle).
func (q *quota) markThrottled(topic string, t Throttled) {
	q.mu.Lock()
	defer q.mu.Unlock()
	defer func() { q.any.Store(len(q.throttled) > 0) }()
	if t.empty() {
		delete(q.throttled, topic)
		return
	}
	s := throttledSet{all: t.All, parts: map[int32]bool{}}
	for _, p := range t.Partitions {
		s.parts[p] = true
	}
	q.throttled[topic] = s
}

func (q *quota) isThrottled(tp klog.TopicPartition) bool {
	if !q.any.Load() {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	s, ok := q.throttled[tp.Topic]
	return ok && (s.all || s.parts[tp.Partition])
}

// exceeded reports whether the measured rate is above the bound (Kafka's checkQuotas on an
// upper-bound Quota: value <= bound is acceptable).
func (q *quota) exceeded() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.bound == UnlimitedRate {
		return false
	}
	return q.rateLocked(q.nowMs()) > float64(q.bound)
}

// throttles is the check of both sides: a partition is held back when it is throttled, its
// replica is not in sync, and the quota is exceeded.
func (q *quota) throttles(tp klog.TopicPartition, inSync bool) bool {
	return !inSync && q.isThrottled(tp) && q.exceeded()
}

// record adds throttled bytes to the current window, starting a new one when it is full
// (Kafka's SampledStat.record).
func (q *quota) record(n int) {
	if n <= 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.nowMs()
	if len(q.samples) == 0 {
		q.samples = append(q.samples, rateSample{start: now})
		q.current = 0
	}
	if now-q.samples[q.current].start >= q.window {
		q.current = (q.current + 1) % q.n
		if q.current >= len(q.samples) {
			q.samples = append(q.samples, rateSample{start: now})
		} else {
			q.samples[q.current] = rateSample{start: now}
		}
	}
	q.samples[q.current].value += float64(n)
}

// rate is the measured bytes/s.
func (q *quota) rate() float64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.rateLocked(q.nowMs())
}

// rateLocked is Kafka's Rate.measure: the bytes of the samples not older than n windows, over
// the time since the oldest one started — but never less than n-1 full windows, so a burst
// right after a quiet spell (or at the start) is not read as an enormous rate.
func (q *quota) rateLocked(now int64) float64 {
	expire := int64(q.n) * q.window
	total := 0.0
	oldest := now
	for i := range q.samples {
		s := &q.samples[i]
		if now-s.start >= expire {
			*s = rateSample{start: now}
		}
		total += s.value
		oldest = min(oldest, s.start)
	}
	elapsed := now - oldest
	if full, minFull := elapsed/q.window, int64(q.n-1); full < minFull {
		elapsed += (minFull - full) * q.window
	}
	if elapsed <= 0 {
		return 0
	}
	return total / (float64(elapsed) / 1000)
}

// replicationQuotas are the manager's two quotas and their counters.
type replicationQuotas struct {
	leader, follower *quota
	bytes            *prometheus.CounterVec // throttled bytes recorded, by quota
	leaderBytes      prometheus.Counter
	followerBytes    prometheus.Counter
}

func newReplicationQuotas(o Options) *replicationQuotas {
	rq := &replicationQuotas{
		leader:   newQuota(o.Now, o.QuotaWindows, o.QuotaWindowSize),
		follower: newQuota(o.Now, o.QuotaWindows, o.QuotaWindowSize),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gregor_replica_throttled_bytes_total",
			Help: "Record bytes of throttled replicas (*.replication.throttled.replicas) this broker sent followers as a leader (quota=leader) or fetched as a follower (quota=follower): what the replication throttles measure."},
			[]string{"quota"}),
	}
	rq.leaderBytes, rq.followerBytes = rq.bytes.WithLabelValues("leader"), rq.bytes.WithLabelValues("follower")
	if o.Registerer != nil {
		_ = o.Registerer.Register(rq.bytes)
	}
	return rq
}

// SetThrottleRates applies leader.replication.throttled.rate and
// follower.replication.throttled.rate (bytes/s; UnlimitedRate: none) at runtime.
func (m *Manager) SetThrottleRates(leader, follower int64) {
	m.quotas.leader.setBound(leader)
	m.quotas.follower.setBound(follower)
}

// ThrottledByteRates are the rates the two quotas measure now, in bytes/s (Kafka's
// LeaderReplication and FollowerReplication byte-rate).
func (m *Manager) ThrottledByteRates() (leader, follower float64) {
	return m.quotas.leader.rate(), m.quotas.follower.rate()
}

// ThrottleRates returns the rates in force.
func (m *Manager) ThrottleRates() (leader, follower int64) {
	return m.quotas.leader.getBound(), m.quotas.follower.getBound()
}

// SetTopicThrottles applies a topic's leader/follower.replication.throttled.replicas as they
// name this broker (Kafka's TopicConfigHandler); an empty Throttled removes that throttle.
func (m *Manager) SetTopicThrottles(topic string, leader, follower Throttled) {
	m.quotas.leader.markThrottled(topic, leader)
	m.quotas.follower.markThrottled(topic, follower)
}

// leaderThrottledLocked is Kafka's shouldLeaderThrottle for a follower's fetch of p: the
// follower is not in the ISR, p is a throttled leader replica, and the leader quota is
// exceeded. p.mu is held.
func (m *Manager) leaderThrottledLocked(p *Partition, follower int32) bool {
	return m.quotas.leader.throttles(p.tp, contains(p.isr, follower))
}

// recordLeaderQuota counts the records a follower's fetch returns for throttled partitions
// (Kafka's sizeOfThrottledPartitions, recorded after the response is built) and passes the
// results through.
func (m *Manager) recordLeaderQuota(fp FetchParams, results []FetchResult) []FetchResult {
	if fp.ReplicaID < 0 {
		return results
	}
	n := 0
	for i := range results {
		// A zero-copy fetch carries its batches as file ranges, a copying one as bytes.
		size := len(results[i].Records) + int(results[i].Files.Len())
		if size > 0 && m.quotas.leader.isThrottled(results[i].TP) {
			n += size
		}
	}
	if n > 0 {
		m.quotas.leader.record(n)
		m.quotas.leaderBytes.Add(float64(n))
	}
	return results
}

// followerThrottled is Kafka's shouldFollowerThrottle: the partition is a throttled follower
// replica that had not caught up with the leader's high watermark at its last fetch, and the
// follower quota is exceeded.
func (f *fetcher) followerThrottled(s *fetchSlot) bool {
	return f.m.quotas.follower.throttles(s.p.tp, s.caughtUp)
}

// throttleWait is how long a fetcher whose every ready partition is held back by the follower
// quota waits before it looks again: replica.fetch.backoff.ms, as Kafka's fetcher backs off when
// its fetch request would be empty (or sooner, for a delayed partition).
func (f *fetcher) throttleWait(next time.Duration) time.Duration {
	if b := f.m.o.Fetch.Backoff; next == 0 || b < next {
		return b
	}
	return next
}

// afterFetch records what the leader sent for a partition after it was applied: the bytes of
// a throttled partition count towards the follower quota, and whether it has caught up with the
// leader's high watermark decides whether the throttle applies to it next time.
func (f *fetcher) afterFetch(tp klog.TopicPartition, it *fetchItem, records int, leaderHW int64) {
	if records > 0 && f.m.quotas.follower.isThrottled(tp) {
		f.m.quotas.follower.record(records)
		f.m.quotas.followerBytes.Add(float64(records))
	}
	p := it.p
	p.mu.Lock()
	caughtUp := p.log != nil && p.log.LogEndOffset() >= leaderHW
	p.mu.Unlock()
	f.mu.Lock()
	if s := f.parts[tp]; s != nil {
		s.caughtUp = caughtUp
	}
	f.mu.Unlock()
}
