package log

import (
	"fmt"
	"sync"
)

// AppendInfo describes an append: the offsets assigned and, for an idempotent retry, the
// offsets the original write got.
type AppendInfo struct {
	FirstOffset    int64
	LastOffset     int64
	LogAppendTime  int64 // -1 unless message.timestamp.type=LogAppendTime
	LogStartOffset int64
	NumRecords     int64
	Duplicate      bool // a retry of one of the producer's last five batches: nothing was written
}

// AppendAsLeader appends a produce request's record set for this partition. It validates every
// batch without decompressing (CRC-32C, framing, counts, size; the records of uncompressed
// batches and the timestamps, see validateLeaderBatches), checks idempotent producers'
// sequences, assigns offsets and stamps the leader epoch by rewriting the two header fields the
// CRC does not cover — in place, in the caller's buffer — and writes the whole set with one write.
func (l *Log) AppendAsLeader(records []byte, leaderEpoch int32) (AppendInfo, error) {
	cfg := l.cfg()
	var hbuf [2]BatchHeader
	hdrs, err := validateSetInto(hbuf[:0], records, cfg.MaxMessageBytes, true)
	if err != nil {
		return AppendInfo{}, err
	}
	lo, hi := timestampBounds(l.now().UnixMilli(), cfg.MaxTimestampDiffMs)
	if err := validateLeaderBatches(records, hdrs, cfg.LogAppendTime, lo, hi); err != nil {
		return AppendInfo{}, err
	}
	if cfg.Compact() {
		if err := checkKeys(records, hdrs); err != nil {
			return AppendInfo{}, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return AppendInfo{}, ErrLogClosed
	}
	if l.ld.offline.Load() {
		return AppendInfo{}, l.ld.offlineErr()
	}
	dup, err := l.producers.check(hdrs)
	if err != nil {
		return AppendInfo{}, err
	}
	if dup != nil {
		return AppendInfo{FirstOffset: dup.firstOffset, LastOffset: dup.lastOffs, LogAppendTime: -1,
			LogStartOffset: l.logStartOffset, Duplicate: true}, nil
	}
	now := l.now().UnixMilli()
	info := AppendInfo{FirstOffset: l.nextOffset, LogAppendTime: -1}
	next, pos := l.nextOffset, 0
	for i := range hdrs {
		h := &hdrs[i]
		b := records[pos : pos+h.Size()]
		setBaseOffset(b, next)
		setLeaderEpoch(b, leaderEpoch)
		if cfg.LogAppendTime {
			setLogAppendTime(b, now)
			h.MaxTimestamp = now
			info.LogAppendTime = now
		}
		h.BaseOffset, h.PartitionLeaderEpoch = next, leaderEpoch
		next += int64(h.LastOffsetDelta) + 1
		info.NumRecords += int64(h.NumRecords)
		pos += h.Size()
	}
	mark := l.markLocked()
	if leaderEpoch >= 0 && leaderEpoch > l.epochs.latest() {
		if err := l.assignEpochLocked(&mark, leaderEpoch, l.nextOffset); err != nil {
			return AppendInfo{}, l.failAppendLocked(mark, err)
		}
	}
	if err := l.appendLocked(mark, records, hdrs, next, now, cfg); err != nil {
		return AppendInfo{}, err
	}
	info.LastOffset = next - 1
	info.LogStartOffset = l.logStartOffset
	return info, nil
}

// AppendAsFollower appends batches that already carry their offsets (from the leader). Offsets
// must grow from the log end; gaps are allowed, because the leader's log may be compacted (Kafka
// rejects only offsets below the log end).
func (l *Log) AppendAsFollower(records []byte) (AppendInfo, error) {
	hdrs, err := ValidateStoredBatches(records)
	if err != nil {
		return AppendInfo{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return AppendInfo{}, ErrLogClosed
	}
	if l.ld.offline.Load() {
		return AppendInfo{}, l.ld.offlineErr()
	}
	next := l.nextOffset
	for i, h := range hdrs {
		if h.BaseOffset < next {
			return AppendInfo{}, &BatchError{Index: i, Err: ErrOffsetOutOfRange}
		}
		next = h.LastOffset() + 1
	}
	mark := l.markLocked()
	info := AppendInfo{FirstOffset: hdrs[0].BaseOffset, LogAppendTime: -1}
	for _, h := range hdrs {
		if h.PartitionLeaderEpoch > l.epochs.latest() {
			if err := l.assignEpochLocked(&mark, h.PartitionLeaderEpoch, h.BaseOffset); err != nil {
				return AppendInfo{}, l.failAppendLocked(mark, err)
			}
		}
		info.NumRecords += int64(h.NumRecords)
	}
	if err := l.appendLocked(mark, records, hdrs, next, l.now().UnixMilli(), l.cfg()); err != nil {
		return AppendInfo{}, err
	}
	info.LastOffset, info.LogStartOffset = next-1, l.logStartOffset
	return info, nil
}

// appendLocked rolls if needed, writes, flushes if flush.messages says so, and only then moves
// the log end and the producer state. Any I/O error on the way undoes the append back to mark
// (see appendMark) and takes the log's directory offline: the error is ErrStorage, and nothing
// of the failed batches is ever visible — not to readers, followers or the high watermark.
func (l *Log) appendLocked(mark appendMark, records []byte, hdrs []BatchHeader, next, now int64, cfg Config) error {
	maxTs := int64(-1)
	for _, h := range hdrs {
		if h.MaxTimestamp > maxTs {
			maxTs = h.MaxTimestamp
		}
	}
	if shouldRoll(l.active(), cfg, int64(len(records)), next-1, maxTs) {
		if err := l.roll(cfg); err != nil {
			return l.failAppendLocked(mark, err)
		}
	}
	if err := l.active().append(records, hdrs); err != nil {
		return l.failAppendLocked(mark, err)
	}
	l.nextOffset = next
	for _, h := range hdrs {
		l.unflushed += int64(h.NumRecords) // flush.messages counts records, not batches
	}
	if l.unflushed >= cfg.FlushIntervalMessages {
		if err := l.flushLocked(); err != nil {
			return l.failAppendLocked(mark, err)
		}
	}
	for _, h := range hdrs {
		l.producers.update(h)
	}
	return nil
}

// codecPool lends produce-path key checks a record decoder with its buffers.
var codecPool = sync.Pool{New: func() any { return new(recordCodec) }}

// checkKeys rejects a record without a key in a batch produced to a compacted log, as Kafka's
// LogValidator does (INVALID_RECORD): the cleaner could only drop it. This is the one produce
// path that decodes records — compacted topics only, before the log's lock is taken; an
// undecodable batch is a corrupt one.
func checkKeys(records []byte, hdrs []BatchHeader) error {
	c := codecPool.Get().(*recordCodec)
	defer codecPool.Put(c)
	var recs []rawRecord
	pos := 0
	for i, h := range hdrs {
		batch := records[pos : pos+h.Size()]
		pos += h.Size()
		if h.IsControl() {
			continue
		}
		var err error
		if recs, err = c.records(batch, h, recs[:0]); err != nil {
			return &BatchError{Index: i, Err: err}
		}
		for _, r := range recs {
			if r.key == nil {
				return &BatchError{Index: i, Err: fmt.Errorf("%w: compacted topic cannot accept a record without a key (offset delta %d)",
					ErrInvalidRecord, r.offset-h.BaseOffset)}
			}
		}
	}
	return nil
}
