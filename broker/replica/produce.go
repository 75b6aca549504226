package replica

import (
	"context"
	"fmt"
	"time"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// ProduceResult is one partition's outcome.
type ProduceResult struct {
	BaseOffset     int64
	LogAppendTime  int64
	LogStartOffset int64
	Err            error
}

// Produce appends each partition's records (the request's raw bytes, untouched until the log
// stamps offsets in place) on this leader. acks=-1 waits, on the partition's notify channel,
// until every ISR member has the records (the high watermark passes them) or the timeout; with
// an ISR of one that is immediate. Partitions are appended one after another: each append is one
// write under its log's lock, and the wait for all of them runs concurrently below.
func (m *Manager) Produce(ctx context.Context, acks int16, timeout time.Duration,
	parts map[klog.TopicPartition][]byte) map[klog.TopicPartition]ProduceResult {
	out := make(map[klog.TopicPartition]ProduceResult, len(parts))
	type pending struct {
		p    *Partition
		need int64 // high watermark that acknowledges the append
	}
	var waits []struct {
		tp klog.TopicPartition
		pending
	}
	for tp, records := range parts {
		p, err := m.leaderPartition(tp, -1)
		if err != nil {
			out[tp] = ProduceResult{BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1, Err: err}
			continue
		}
		p.mu.Lock()
		if !p.isLeaderLocked() { // leadership moved since leaderPartition looked
			p.mu.Unlock()
			out[tp] = ProduceResult{BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1, Err: ErrNotLeaderOrFollower}
			continue
		}
		if acks == -1 && int32(len(p.isr)) < p.minISR {
			err = fmt.Errorf("%w: ISR %v, min.insync.replicas %d", ErrNotEnoughReplicas, p.isr, p.minISR)
			p.mu.Unlock()
			out[tp] = ProduceResult{BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1, Err: err}
			continue
		}
		info, err := p.log.AppendAsLeader(records, p.leaderEpoch)
		if err != nil {
			p.mu.Unlock()
			out[tp] = ProduceResult{BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1, Err: err}
			continue
		}
		p.maybeAdvanceHWLocked()
		hw := p.log.HighWatermark()
		p.mu.Unlock()
		out[tp] = ProduceResult{BaseOffset: info.FirstOffset, LogAppendTime: info.LogAppendTime, LogStartOffset: info.LogStartOffset}
		if acks == -1 && hw <= info.LastOffset {
			waits = append(waits, struct {
				tp klog.TopicPartition
				pending
			}{tp, pending{p, info.LastOffset + 1}})
		}
	}
	if len(waits) == 0 {
		return out
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for _, w := range waits {
		if err := m.awaitHW(ctx, timer.C, w.p, w.need); err != nil {
			r := out[w.tp]
			r.Err = err
			out[w.tp] = r
		}
	}
	return out
}

// awaitHW blocks until p's high watermark reaches need, leadership is lost, or the deadline.
func (m *Manager) awaitHW(ctx context.Context, deadline <-chan time.Time, p *Partition, need int64) error {
	for {
		p.mu.Lock()
		if !p.isLeaderLocked() {
			p.mu.Unlock()
			return fmt.Errorf("%w: %s lost leadership while waiting for replication", ErrNotLeaderOrFollower, p.tp)
		}
		if p.log.HighWatermark() >= need {
			p.mu.Unlock()
			return nil
		}
		ch := p.notify
		p.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return fmt.Errorf("%w: %s high watermark below %d", ErrRequestTimedOut, p.tp, need)
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ErrRequestTimedOut, ctx.Err())
		case <-m.done:
			return ErrShutdown
		}
	}
}
