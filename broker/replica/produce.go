package replica

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

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
// stamps offsets in place) on this leader. acks=-1 waits, on the partition's high-watermark channel,
// until every ISR member has the records (the high watermark passes them) or the timeout; with
// an ISR of one that is immediate. Partitions are appended one after another: each append is one
// write under its log's lock, and the wait for all of them runs concurrently below.
func (m *Manager) Produce(ctx context.Context, acks int16, timeout time.Duration,
	parts map[klog.TopicPartition][]byte) map[klog.TopicPartition]ProduceResult {
	return m.ProduceThen(ctx, acks, timeout, parts, nil, nil)
}

// ProduceThen is Produce calling appended (if not nil) once every partition's append is done,
// before the wait for replication: the network lets the connection's next Produce append then,
// so acks=all waits of one connection overlap while its appends stay in arrival order. waiting
// (if not nil) is called only if some partition must wait for its followers, before the wait:
// with an ISR of one there is none.
func (m *Manager) ProduceThen(ctx context.Context, acks int16, timeout time.Duration,
	parts map[klog.TopicPartition][]byte, appended, waiting func()) map[klog.TopicPartition]ProduceResult {
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
		if errors.Is(err, klog.ErrStorage) {
			// The disk failed under this append: it was undone, and the directory is offline
			// (HandleLogDirFailure follows). KAFKA_STORAGE_ERROR, as Kafka answers.
			err = fmt.Errorf("%w: %w", ErrKafkaStorage, err)
		}
		if err != nil {
			p.mu.Unlock()
			m.warnSequence(tp, err)
			out[tp] = ProduceResult{BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1, Err: err}
			continue
		}
		if !info.Duplicate {
			p.wakeLEOLocked() // followers parked on the leader's log end fetch it now
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
	if appended != nil {
		appended()
	}
	if len(waits) == 0 {
		return out
	}
	if waiting != nil {
		waiting()
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
		if p.offline.Load() {
			p.mu.Unlock()
			return fmt.Errorf("%w: %s went offline while waiting for replication", ErrKafkaStorage, p.tp)
		}
		if !p.isLeaderLocked() {
			p.mu.Unlock()
			return fmt.Errorf("%w: %s lost leadership while waiting for replication", ErrNotLeaderOrFollower, p.tp)
		}
		if p.log.HighWatermark() >= need {
			// Kafka's DelayedProduce: replicated, but if the ISR shrank below
			// min.insync.replicas while we waited the write is not as durable as asked.
			isr, minISR := len(p.isr), p.minISR
			p.mu.Unlock()
			if int32(isr) < minISR {
				return fmt.Errorf("%w: ISR of %d, min.insync.replicas %d", ErrNotEnoughReplicasAfterAppend, isr, minISR)
			}
			return nil
		}
		ch := p.hwChanLocked()
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

// warnSequence logs an idempotent producer's refused batch, at most once a second: after a
// leader change a refusal the producer answers by bumping its epoch and writing again is how
// duplicates would appear, and the log is where the next occurrence can be read.
func (m *Manager) warnSequence(tp klog.TopicPartition, err error) {
	if !errors.Is(err, klog.ErrOutOfOrderSequence) && !errors.Is(err, klog.ErrUnknownProducerID) &&
		!errors.Is(err, klog.ErrInvalidProducerEpoch) {
		return
	}
	now, last := m.now().UnixNano(), m.seqWarned.Load()
	if now-last < int64(time.Second) || !m.seqWarned.CompareAndSwap(last, now) {
		return
	}
	m.o.Logger.WithFields(logrus.Fields{"topic": tp.Topic, "partition": tp.Partition}).WithError(err).
		Warn("idempotent produce refused")
}
