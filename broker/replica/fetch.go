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
}

// FetchParams is a Fetch request as the replica layer sees it.
type FetchParams struct {
	ReplicaID  int32 // -1 for consumers; a broker id for followers
	MaxWait    time.Duration
	MinBytes   int32
	MaxBytes   int32
	Partitions []FetchPartition
}

// FetchResult is one partition's answer.
type FetchResult struct {
	TP               klog.TopicPartition
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
	Records          []byte
	Err              error
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
		if total >= int(fp.MinBytes) || fp.MaxWait <= 0 || len(chans) == 0 || hasError(results) {
			return results
		}
		cases := make([]reflect.SelectCase, 0, len(chans)+3)
		for _, ch := range chans {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		}
		cases = append(cases,
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline)},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(m.done)})
		chosen, _, _ := reflect.Select(cases)
		if chosen >= len(chans) { // deadline, cancelled or shutting down: answer with what there is
			results, _, _ = m.readOnce(fp)
			return results
		}
	}
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
		*r = FetchResult{TP: req.TP, HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1}
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
		if !p.isLeaderLocked() {
			p.mu.Unlock()
			r.Err = ErrNotLeaderOrFollower
			continue
		}
		maxOffset := p.log.HighWatermark()
		if fp.ReplicaID >= 0 {
			// A follower's fetch offset is its log end: it may move the high watermark.
			if contains(p.replicas, fp.ReplicaID) && req.Offset > p.followerLEO[fp.ReplicaID] {
				p.followerLEO[fp.ReplicaID] = req.Offset
				p.maybeAdvanceHWLocked()
			}
			maxOffset = -1
		}
		ch := p.notify
		l := p.log
		p.mu.Unlock()
		chans = append(chans, ch)

		limit := int64(req.MaxBytes)
		if limit > budget {
			limit = budget
		}
		// Kafka returns the first batch whole even above the limits, but only for the first
		// partition that has data, so a consumer can always make progress.
		data, err := l.Read(req.Offset, int32(min(limit, 1<<31-1)), maxOffset, total == 0)
		r.HighWatermark = l.HighWatermark()
		r.LastStableOffset = r.HighWatermark
		r.LogStartOffset = l.LogStartOffset()
		if err != nil {
			r.Err = err
			continue
		}
		r.Records = data
		total += len(data)
		budget -= int64(len(data))
		if budget < 0 {
			budget = 0
		}
	}
	return results, chans, total
}
