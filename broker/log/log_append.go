package log

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
// batch without decompressing (CRC-32C, framing, counts, size), checks idempotent producers'
// sequences, assigns offsets and stamps the leader epoch by rewriting the two header fields the
// CRC does not cover — in place, in the caller's buffer — and writes the whole set with one write.
func (l *Log) AppendAsLeader(records []byte, leaderEpoch int32) (AppendInfo, error) {
	cfg := l.cfg()
	hdrs, err := ValidateBatches(records, cfg.MaxMessageBytes)
	if err != nil {
		return AppendInfo{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return AppendInfo{}, ErrLogClosed
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
	if leaderEpoch >= 0 && leaderEpoch > l.epochs.latest() {
		if _, err := l.epochs.assign(leaderEpoch, l.nextOffset); err != nil {
			return AppendInfo{}, err
		}
	}
	if err := l.appendLocked(records, hdrs, next, now, cfg); err != nil {
		return AppendInfo{}, err
	}
	info.LastOffset = next - 1
	info.LogStartOffset = l.logStartOffset
	return info, nil
}

// AppendAsFollower appends batches that already carry their offsets (from the leader); the first
// must start at the log end.
func (l *Log) AppendAsFollower(records []byte) (AppendInfo, error) {
	hdrs, err := ValidateBatches(records, 0)
	if err != nil {
		return AppendInfo{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return AppendInfo{}, ErrLogClosed
	}
	next := l.nextOffset
	info := AppendInfo{FirstOffset: hdrs[0].BaseOffset, LogAppendTime: -1}
	for i, h := range hdrs {
		if h.BaseOffset != next {
			return AppendInfo{}, &BatchError{Index: i, Err: ErrOffsetOutOfRange}
		}
		if h.PartitionLeaderEpoch > l.epochs.latest() {
			if _, err := l.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset); err != nil {
				return AppendInfo{}, err
			}
		}
		next = h.LastOffset() + 1
		info.NumRecords += int64(h.NumRecords)
	}
	if err := l.appendLocked(records, hdrs, next, l.now().UnixMilli(), l.cfg()); err != nil {
		return AppendInfo{}, err
	}
	info.LastOffset, info.LogStartOffset = next-1, l.logStartOffset
	return info, nil
}

// appendLocked rolls if needed, writes, and updates offsets, producer state and flush policy.
func (l *Log) appendLocked(records []byte, hdrs []BatchHeader, next, now int64, cfg Config) error {
	maxTs := int64(-1)
	for _, h := range hdrs {
		if h.MaxTimestamp > maxTs {
			maxTs = h.MaxTimestamp
		}
	}
	if shouldRoll(l.active(), cfg, int64(len(records)), next-1, maxTs) {
		if err := l.roll(cfg); err != nil {
			return err
		}
	}
	if err := l.active().append(records, hdrs); err != nil {
		return err
	}
	l.nextOffset = next
	for _, h := range hdrs {
		l.producers.update(h)
	}
	l.unflushed += int64(len(hdrs))
	if l.unflushed >= cfg.FlushIntervalMessages {
		return l.flushLocked()
	}
	return nil
}
