package replica

import (
	"context"
	"reflect"
	"time"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// FetchPartition is one partition of a Fetch request.
type FetchPartition struct {
	TP                 klog.TopicPartition
	Offset             int64
	MaxBytes           int32
	CurrentLeaderEpoch int32
	// LastFetchedEpoch is the epoch of the follower's last batch (-1: not given); the leader
	// answers a DivergingEpoch when its log differs from there (Fetch v12, KIP-595's
	// truncation-on-fetch that Kafka 2.7+ brokers use).
	LastFetchedEpoch int32
}

// FetchParams is a Fetch request as the replica layer sees it.
type FetchParams struct {
	ReplicaID  int32  // -1 for consumers; a broker id for followers
	RackID     string // the consumer's rack (Fetch v11+); "" none
	MaxWait    time.Duration
	MinBytes   int32
	MaxBytes   int32
	Partitions []FetchPartition
	// ZeroCopy answers with FetchResult.Files (ranges of the segment files, for sendfile) instead
	// of copying the bytes into FetchResult.Records. The caller must then call ReleaseFetch.
	ZeroCopy bool
}

// FetchResult is one partition's answer.
type FetchResult struct {
	TP               klog.TopicPartition
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
	Records          []byte // the batches, copied (FetchParams.ZeroCopy unset)
	// Files are the batches as ranges of the segment files, held open until ReleaseFetch
	// (FetchParams.ZeroCopy set).
	Files klog.Records
	// Diverging is set when the follower's log diverged at LastFetchedEpoch: it must truncate to
	// DivergingEndOffset (the end of DivergingEpoch on the leader) before fetching on.
	Diverging          bool
	DivergingEpoch     int32
	DivergingEndOffset int64
	// PreferredReadReplica (>= 0) tells a consumer to fetch from that follower instead (KIP-392);
	// no records come with it. -1 otherwise.
	PreferredReadReplica int32
	Err                  error
}

// Fetch reads every requested partition, in request order. If fewer than MinBytes are available
// it parks — selecting on the partitions' notify channels, which appends and high-watermark moves
// close — until data arrives, MaxWait passes, or ctx ends; then it reads again. Consumers read up
// to the high watermark, followers up to the log end (and report their position, which moves the
// high watermark).
func (m *Manager) Fetch(ctx context.Context, fp FetchParams) []FetchResult {
	var deadline <-chan time.Time
	if fp.MaxWait > 0 {
		t := time.NewTimer(fp.MaxWait)
		defer t.Stop()
		deadline = t.C
	}
	for {
		results, chans, total := m.readOnce(fp)
		if total >= int(fp.MinBytes) || fp.MaxWait <= 0 || len(chans) == 0 || hasError(results) || redirected(results) {
			return m.recordLeaderQuota(fp, results)
		}
		ReleaseFetch(results) // too little: read again once woken
		cases := make([]reflect.SelectCase, 0, len(chans)+3)
		for _, ch := range chans {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		}
		cases = append(cases,
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline)},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(m.done)})
		m.stats.parkedFetches.Inc()
		chosen, _, _ := reflect.Select(cases)
		m.stats.parkedFetches.Dec()
		if chosen >= len(chans) { // deadline, cancelled or shutting down: answer with what there is
			results, _, _ = m.readOnce(fp)
			return m.recordLeaderQuota(fp, results)
		}
	}
}

// ReleaseFetch drops the file references of a ZeroCopy fetch's results (safe on any results).
func ReleaseFetch(rs []FetchResult) {
	for i := range rs {
		rs[i].Files.Release()
	}
}

func redirected(rs []FetchResult) bool {
	for _, r := range rs {
		if r.PreferredReadReplica >= 0 {
			return true
		}
	}
	return false
}

func hasError(rs []FetchResult) bool {
	for _, r := range rs {
		if r.Err != nil {
			return true
		}
	}
	return false
}

// readOnce reads every partition once and returns the notify channels to wait on, captured
// before reading so that an append racing with the read still wakes the waiter.
func (m *Manager) readOnce(fp FetchParams) ([]FetchResult, []chan struct{}, int) {
	results := make([]FetchResult, len(fp.Partitions))
	var chans []chan struct{}
	total := 0
	budget := int64(fp.MaxBytes)
	if budget <= 0 {
		budget = 1 << 62
	}
	for i, req := range fp.Partitions {
		r := &results[i]
		*r = FetchResult{TP: req.TP, HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1, PreferredReadReplica: -1}
		p, err := m.partition(req.TP)
		if err != nil {
			r.Err = err
			continue
		}
		p.mu.Lock()
		if p.log == nil {
			p.mu.Unlock()
			r.Err = ErrUnknownTopicOrPartition
			continue
		}
		if err := p.checkEpochLocked(req.CurrentLeaderEpoch); err != nil {
			p.mu.Unlock()
			r.Err = err
			continue
		}
		served := m.stats.consumerFetchesLeader
		if !p.isLeaderLocked() {
			// A follower serves a consumer that said where it is, when rack-aware selection is on
			// (Kafka's fetchOnlyFromLeader is false for such clients), up to its high watermark.
			if !(fp.ReplicaID < 0 && fp.RackID != "" && m.o.RackAware && !p.stopped && p.leader >= 0) {
				p.mu.Unlock()
				r.Err = ErrNotLeaderOrFollower
				continue
			}
			served = m.stats.consumerFetchesFollower
		} else if fp.ReplicaID < 0 && fp.RackID != "" && m.o.RackAware {
			if id := m.preferredReadReplicaLocked(p, fp.RackID, req.Offset); id != p.me {
				r.PreferredReadReplica = id
				r.HighWatermark, r.LastStableOffset = p.log.HighWatermark(), p.log.HighWatermark()
				r.LogStartOffset = p.log.LogStartOffset()
				p.mu.Unlock()
				continue
			}
		}
		if fp.ReplicaID < 0 {
			served.Inc()
		}
		maxOffset := p.log.HighWatermark()
		var ch chan struct{}
		if fp.ReplicaID < 0 {
			ch = p.hwChanLocked()
		} else {
			// A follower reads up to the log end, waits for appends, and its fetch offset is its
			// log end: it may move the high watermark and the ISR.
			ch = p.leoChanLocked()
			maxOffset = -1
			if done := m.followerFetchLocked(p, fp.ReplicaID, req, r); done {
				p.mu.Unlock()
				if r.Err == nil {
					chans = append(chans, ch)
				}
				continue
			}
		}
		throttled := fp.ReplicaID >= 0 && m.leaderThrottledLocked(p, fp.ReplicaID)
		l := p.log
		p.mu.Unlock()
		chans = append(chans, ch)
		if throttled { // the leader quota is exceeded: answer without records (quota.go)
			r.HighWatermark, r.LastStableOffset, r.LogStartOffset = l.HighWatermark(), l.HighWatermark(), l.LogStartOffset()
			continue
		}

		// At the end this fetcher may read to (the high watermark for a consumer, the log end for
		// a follower) there is nothing to read: answer without touching the segments. An idle
		// fetch session's partitions are all here, every fetch.
		if end := maxOffset; req.Offset == end || end < 0 && req.Offset == l.LogEndOffset() {
			r.HighWatermark = l.HighWatermark()
			r.LastStableOffset = r.HighWatermark
			r.LogStartOffset = l.LogStartOffset()
			continue
		}
		limit := int64(req.MaxBytes)
		if limit > budget {
			limit = budget
		}
		// Kafka returns the first batch whole even above the limits, but only for the first
		// partition that has data, so a consumer can always make progress.
		var n int
		if fp.ZeroCopy {
			r.Files, err = l.ReadRecords(req.Offset, int32(min(limit, 1<<31-1)), maxOffset, total == 0)
			n = int(r.Files.Len())
		} else {
			r.Records, err = l.Read(req.Offset, int32(min(limit, 1<<31-1)), maxOffset, total == 0)
			n = len(r.Records)
		}
		r.HighWatermark = l.HighWatermark()
		r.LastStableOffset = r.HighWatermark
		r.LogStartOffset = l.LogStartOffset()
		if err != nil {
			r.Files.Release()
			r.Records = nil
			r.Err = err
			continue
		}
		total += n
		budget -= int64(n)
		if budget < 0 {
			budget = 0
		}
	}
	return results, chans, total
}
