package log

import (
	"fmt"
	"sort"
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
	l.refillProducerWindowsLocked(at)
	return l.forEachBatchLocked(from, func(h BatchHeader) error {
		l.producers.update(h)
		return nil
	})
}

// producerHistoryBytes bounds how much of the log before a producer snapshot is read to refill
// the duplicate-detection windows (refillProducerWindowsLocked).
const producerHistoryBytes = 1 << 20

// refillProducerWindowsLocked gives the producers loaded from a snapshot their last batches
// back. The snapshot keeps one batch per producer (Kafka's format), so after a restart a retry
// of any earlier in-flight batch — up to five are, and a rolling restart moves leadership while
// they wait — was refused OUT_OF_ORDER_SEQUENCE instead of answered as the duplicate it is, and
// the client re-sent it under new sequence numbers. The batches are in the log just before the
// snapshot's offset: the headers of at most the last producerHistoryBytes of the segment holding
// at-1 are read, and a producer's window is refilled only if its newest batch there is the one
// the snapshot kept, so nothing is guessed.
func (l *Log) refillProducerWindowsLocked(at int64) {
	if len(l.producers.producers) == 0 || at <= l.logStartOffset {
		return
	}
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > at-1 }) - 1
	if i < 0 {
		return
	}
	s := l.segments[i]
	f, err := s.file()
	if err != nil {
		return
	}
	last, _, ok, err := s.locate(f, s.index.entries, s.size, at-1)
	if err != nil || !ok {
		return
	}
	start := int64(0)
	if lim := last - producerHistoryBytes; lim > 0 {
		entries := s.index.entries
		if j := sort.Search(len(entries), func(j int) bool { return int64(entries[j].pos) > lim }); j > 0 {
			start = int64(entries[j-1].pos)
		}
	}
	hist := map[int64]*producerEntry{} // each producer's batches here, kept as its window keeps them
	r := newHeaderReader(f, s.size)
	defer r.release()
	for pos := start; pos <= last; {
		h, err := r.header(pos)
		if err != nil {
			return // a window left as the snapshot made it is what Kafka has
		}
		pos += int64(h.Size())
		if h.LastOffset() >= at {
			break
		}
		e := l.producers.producers[h.ProducerID]
		if h.ProducerID < 0 || e == nil || h.ProducerEpoch != e.epoch {
			continue
		}
		if hist[h.ProducerID] == nil {
			hist[h.ProducerID] = &producerEntry{}
		}
		hist[h.ProducerID].add(metaOf(h))
	}
	for id, found := range hist {
		e := l.producers.producers[id]
		newest := found.batches[len(found.batches)-1]
		if len(e.batches) == 1 && e.batches[0].firstSeq == newest.firstSeq && e.batches[0].lastSeq == newest.lastSeq &&
			e.batches[0].lastOffs == newest.lastOffs {
			e.batches = found.batches
		}
	}
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
	if l.ld.offline.Load() { // a failed disk takes no more writes
		return l.ld.offlineErr()
	}
	if offset >= l.nextOffset {
		// No record to remove, but leader epochs that start at the log end describe nothing
		// either: an epoch this broker led without appending to it. A follower that kept one
		// would send it as its last fetched epoch forever, the leader (which never saw that
		// epoch) would answer the same divergence forever, and the follower would never catch up.
		return l.epochs.truncateFrom(l.nextOffset)
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
	// In a compacted log offset may fall in a gap: the first batch past it starts later, but the
	// log must end at offset, not there, or a follower would skip what its leader has between.
	next = min(next, offset)
	return l.afterTruncateLocked(next)
}

// TruncateFullyAndStartAt empties the log and restarts it at offset, which may lie beyond the
// current log end: a follower whose log ends before its leader's log start begins again there
// (Kafka's truncateFullyAndStartAt).
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	l.bg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrLogClosed
	}
	if l.ld.offline.Load() { // a failed disk takes no more writes
		return l.ld.offlineErr()
	}
	return l.truncateFullyLocked(offset, l.cfg())
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
	l.noteTruncationLocked(next)
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
	if l.ld.offline.Load() {
		return 0, l.ld.offlineErr()
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

// deleteRetained applies retention.ms and retention.bytes when cleanup.policy has delete: whole
// segments, oldest first, never the active one. It returns how many segments it deleted.
func (l *Log) deleteRetained(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.ld.offline.Load() {
		return 0
	}
	cfg := l.cfg()
	n := 0
	if !cfg.Delete() {
		// cleanup.policy=compact: the cleaner owns the log's size; only DeleteRecords (the log
		// start offset) removes segments, as Kafka's deleteOldSegments does.
		return l.deleteSegmentsLocked(func(s, next *segment) bool { return next.base <= l.logStartOffset }, "log start offset")
	}
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
