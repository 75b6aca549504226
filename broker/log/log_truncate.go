package log

import (
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
)

// rebuildProducerState loads the newest producer snapshot at or below the log end and replays the
// batches after it, Kafka's recovery of idempotence state after a crash or truncation.
func (l *Log) rebuildProducerState() error {
	at, err := l.producers.truncateAndLoad(l.nextOffset)
	if err != nil {
		return fmt.Errorf("load producer state: %w", err)
	}
	from := at
	if from < l.logStartOffset {
		from = l.logStartOffset
	}
	return l.forEachBatchLocked(from, func(h BatchHeader) error {
		l.producers.update(h)
		return nil
	})
}

// TruncateTo removes every record at or after offset (a follower diverging from its leader); a
// batch that straddles offset goes whole. Truncating below the log start empties the log and
// restarts it at offset.
func (l *Log) TruncateTo(offset int64) error {
	l.bg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrLogClosed
	}
	if offset >= l.nextOffset {
		return nil
	}
	cfg := l.cfg()
	if offset <= l.segments[0].base {
		return l.truncateFullyLocked(offset, cfg)
	}
	for len(l.segments) > 1 && l.active().base >= offset {
		s := l.active()
		l.segments = l.segments[:len(l.segments)-1]
		s.close()
		for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			_ = l.fs.Remove(s.path(suf))
		}
	}
	next, err := l.active().truncateTo(offset)
	if err != nil {
		return err
	}
	return l.afterTruncateLocked(next)
}

func (l *Log) truncateFullyLocked(offset int64, cfg Config) error {
	for _, s := range l.segments {
		s.close()
		for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			_ = l.fs.Remove(s.path(suf))
		}
	}
	s, err := openSegment(l.fs, l.dir, offset, cfg)
	if err != nil {
		return err
	}
	l.segments = []*segment{s}
	l.logStartOffset = offset
	return l.afterTruncateLocked(offset)
}

func (l *Log) afterTruncateLocked(next int64) error {
	l.nextOffset = next
	if l.recoveryPoint > next {
		l.recoveryPoint = next
	}
	if hw := l.hw.Load(); hw > next {
		l.hw.Store(next)
	}
	if err := l.epochs.truncateFrom(next); err != nil {
		return err
	}
	return l.rebuildProducerState()
}

// DeleteRecordsBefore advances the log start offset to offset (DeleteRecords) and deletes the
// segments wholly below it. The caller checks offset against the high watermark.
func (l *Log) DeleteRecordsBefore(offset int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrLogClosed
	}
	if offset > l.nextOffset {
		return l.logStartOffset, fmt.Errorf("%w: %d beyond log end %d", ErrOffsetOutOfRange, offset, l.nextOffset)
	}
	if offset > l.logStartOffset {
		l.logStartOffset = offset
		if err := l.epochs.truncateBefore(offset); err != nil {
			return l.logStartOffset, err
		}
	}
	l.deleteSegmentsLocked(func(s, next *segment) bool { return next.base <= l.logStartOffset }, "log start offset")
	return l.logStartOffset, nil
}

// deleteRetained applies retention.ms and retention.bytes: whole segments, oldest first, never
// the active one. It returns how many segments it deleted.
func (l *Log) deleteRetained(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0
	}
	cfg := l.cfg()
	n := 0
	if cfg.RetentionMs >= 0 {
		limit := now.UnixMilli() - cfg.RetentionMs
		n += l.deleteSegmentsLocked(func(s, _ *segment) bool { return s.maxTimestamp >= 0 && s.maxTimestamp < limit }, "retention.ms")
	}
	if cfg.RetentionBytes >= 0 {
		var total int64
		for _, s := range l.segments {
			total += s.size
		}
		n += l.deleteSegmentsLocked(func(s, _ *segment) bool {
			if total-s.size < cfg.RetentionBytes {
				return false
			}
			total -= s.size
			return true
		}, "retention.bytes")
	}
	n += l.deleteSegmentsLocked(func(s, next *segment) bool { return next.base <= l.logStartOffset }, "log start offset")
	return n
}

// deleteSegmentsLocked deletes leading segments while pred holds (never the active segment):
// their files are renamed `.deleted` now and removed after file.delete.delay.ms.
func (l *Log) deleteSegmentsLocked(pred func(s, next *segment) bool, reason string) int {
	n := 0
	for len(l.segments) > 1 && pred(l.segments[0], l.segments[1]) {
		s := l.segments[0]
		if err := s.markDeleted(); err != nil {
			l.logger.WithError(err).Error("deleting segment")
			break
		}
		l.segments = l.segments[1:]
		l.pendingDeletes = append(l.pendingDeletes, pendingDelete{seg: s, at: l.now().Add(time.Duration(l.cfg().FileDeleteDelayMs) * time.Millisecond)})
		if l.segments[0].base > l.logStartOffset {
			l.logStartOffset = l.segments[0].base
			_ = l.epochs.truncateBefore(l.logStartOffset)
		}
		l.logger.WithFields(logrus.Fields{"segment": s.base, "reason": reason}).Info("segment scheduled for deletion")
		n++
	}
	if n > 0 {
		_ = l.producers.snapshots.deleteBelow(l.segments[0].base)
	}
	return n
}

// removeExpiredDeletes removes `.deleted` files whose delay has passed.
func (l *Log) removeExpiredDeletes(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := l.pendingDeletes[:0]
	for _, p := range l.pendingDeletes {
		if now.Before(p.at) {
			kept = append(kept, p)
			continue
		}
		if err := p.seg.removeDeleted(); err != nil {
			l.logger.WithError(err).Warn("removing deleted segment files")
		}
	}
	l.pendingDeletes = kept
}

// expireProducers drops producer ids idle longer than producer.id.expiration.ms.
func (l *Log) expireProducers(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.producers.removeExpired(now.UnixMilli(), l.cfg().ProducerIDExpirationMs)
}
