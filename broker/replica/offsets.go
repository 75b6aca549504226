package replica

import (
	"fmt"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// Special timestamps of ListOffsets.
const (
	LatestTimestamp   = -1
	EarliestTimestamp = -2
	MaxTimestamp      = -3
)

// ListOffset answers ListOffsets on the leader: earliest (-2) is the log start offset, latest
// (-1) the high watermark (what a consumer can read), max timestamp (-3) the record with the
// largest timestamp, and a timestamp the first record at or after it that is below the high
// watermark; -1/-1 when there is none. The leader epoch returned is the one the offset was written
// under (the current one for latest), as Kafka returns it for truncation detection.
//
// A follower (replica) asking for latest gets the log end instead: it is locating the end of
// the leader's log after OFFSET_OUT_OF_RANGE, as Kafka's replica isolation does.
func (m *Manager) ListOffset(tp klog.TopicPartition, timestamp int64, currentLeaderEpoch int32, replica bool) (int64, int64, int32, error) {
	p, err := m.leaderPartition(tp, currentLeaderEpoch)
	if err != nil {
		return -1, -1, -1, err
	}
	p.mu.Lock()
	epoch := p.leaderEpoch
	l := p.log
	p.mu.Unlock()
	hw := l.HighWatermark()
	switch timestamp {
	case EarliestTimestamp:
		start := l.LogStartOffset()
		return start, -1, l.EpochForOffset(start), nil
	case LatestTimestamp:
		if replica {
			return l.LogEndOffset(), -1, epoch, nil
		}
		return hw, -1, epoch, nil
	case MaxTimestamp:
		ts, off := l.MaxTimestamp()
		if ts < 0 || off >= hw {
			return -1, -1, -1, nil
		}
		return off, ts, l.EpochForOffset(off), nil
	}
	if timestamp < 0 {
		return -1, -1, -1, fmt.Errorf("%w: timestamp %d", klog.ErrInvalidTimestamp, timestamp)
	}
	off, ts, ok := l.OffsetForTimestamp(timestamp)
	if !ok || off >= hw {
		return -1, -1, -1, nil
	}
	return off, ts, l.EpochForOffset(off), nil
}

// OffsetForLeaderEpoch answers OffsetForLeaderEpoch on the leader (KIP-101, KIP-320): the
// largest epoch <= leaderEpoch this log knows and where it ends (Kafka's
// LeaderEpochFileCache.endOffsetFor), after checking the caller's current leader epoch.
// Followers and clients (franz-go, the Java consumer after a leader change) use it to find where
// their log or position diverged.
func (m *Manager) OffsetForLeaderEpoch(tp klog.TopicPartition, currentLeaderEpoch, leaderEpoch int32) (int32, int64, error) {
	p, err := m.leaderPartition(tp, currentLeaderEpoch)
	if err != nil {
		return -1, -1, err
	}
	epoch, end := p.log.EndOffsetForEpoch(leaderEpoch)
	return epoch, end, nil
}

// DeleteRecords advances the log start offset of a partition this broker leads. offset -1 means
// the high watermark; beyond it is out of range. It returns the new low watermark.
func (m *Manager) DeleteRecords(tp klog.TopicPartition, offset int64) (int64, error) {
	p, err := m.leaderPartition(tp, -1)
	if err != nil {
		return -1, err
	}
	l := p.log
	hw := l.HighWatermark()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return -1, fmt.Errorf("%w: %d beyond the high watermark %d", klog.ErrOffsetOutOfRange, offset, hw)
	}
	return l.DeleteRecordsBefore(offset)
}
