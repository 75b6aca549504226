package log

import (
	"fmt"
	"sort"
)

// segView is what a reader captures under the log's mutex: enough to read a segment's bytes
// without holding the lock.
type segView struct {
	s       *segment
	size    int64
	entries []offsetEntry
}

// view captures the segments from the one holding offset onwards.
func (l *Log) view(offset int64) ([]segView, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrLogClosed
	}
	if offset < l.logStartOffset || offset > l.nextOffset {
		return nil, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, offset, l.logStartOffset, l.nextOffset)
	}
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > offset }) - 1
	if i < 0 {
		i = 0
	}
	out := make([]segView, 0, len(l.segments)-i)
	for _, s := range l.segments[i:] {
		out = append(out, segView{s: s, size: s.size, entries: s.index.entries})
	}
	return out, nil
}

// Read returns whole batches starting with the one that holds offset, up to maxBytes, and only
// batches whose last offset is below maxOffset (the high watermark for consumers; -1: no bound).
// With minOneBatch the first batch is returned whole even if it is larger than maxBytes, as Kafka
// does so a consumer can always make progress. Reading at the log end returns nothing. The bytes
// are read from the segment files into one buffer; no batch is decoded.
func (l *Log) Read(offset int64, maxBytes int32, maxOffset int64, minOneBatch bool) ([]byte, error) {
	views, err := l.view(offset)
	if err != nil || maxBytes < 0 {
		return nil, err
	}
	var out []byte
	for vi, v := range views {
		var pos int64
		if vi == 0 {
			p, _, ok, err := v.s.locate(v.entries, v.size, offset)
			if err != nil {
				return out, err
			}
			if !ok {
				continue
			}
			pos = p
		}
		budget := int64(maxBytes) - int64(len(out))
		want := v.size - pos
		if want > budget {
			want = budget
		}
		if want < batchHeaderSize {
			if len(out) > 0 || !minOneBatch {
				return out, nil
			}
			want = 0
		}
		chunk, done, err := readBatches(v.s, pos, v.size, want, maxOffset, minOneBatch && len(out) == 0, &out)
		if err != nil || done || len(chunk) == 0 && len(out) > 0 {
			return out, err
		}
	}
	return out, nil
}

// readBatches reads up to want bytes at pos into *out and trims them to whole batches below
// maxOffset. If not even one batch fits and first is set, it reads the first batch whole. done
// reports that the caller must stop (budget exhausted or maxOffset reached).
func readBatches(s *segment, pos, limit, want, maxOffset int64, first bool, out *[]byte) ([]byte, bool, error) {
	if want > 0 {
		start := len(*out)
		if cap(*out)-start < int(want) {
			grown := make([]byte, start, start+int(want))
			copy(grown, *out)
			*out = grown
		}
		buf := (*out)[start : start+int(want)]
		n, err := s.log.ReadAt(buf, pos)
		if n < len(buf) && err != nil {
			buf = buf[:n]
		}
		keep, stop := wholeBatches(buf, maxOffset)
		*out = (*out)[:start+keep]
		if keep > 0 || !first {
			return buf[:keep], stop || keep < len(buf), nil
		}
	}
	if !first {
		return nil, true, nil
	}
	// Not one whole batch fits the budget: return the first batch anyway.
	r := headerReader{f: s.log, limit: limit}
	h, err := r.header(pos)
	if err != nil {
		return nil, true, fmt.Errorf("segment %d at %d: %w", s.base, pos, err)
	}
	if maxOffset >= 0 && h.LastOffset() >= maxOffset {
		return nil, true, nil
	}
	buf := make([]byte, h.Size())
	if _, err := s.log.ReadAt(buf, pos); err != nil {
		return nil, true, fmt.Errorf("segment %d at %d: %w", s.base, pos, err)
	}
	*out = append(*out, buf...)
	return buf, true, nil
}

// wholeBatches returns how many leading bytes of b are whole batches with last offset below
// maxOffset, and whether maxOffset cut the walk short.
func wholeBatches(b []byte, maxOffset int64) (int, bool) {
	pos := 0
	for pos+batchHeaderSize <= len(b) {
		h, err := ParseBatchHeader(b[pos:])
		if err != nil || pos+h.Size() > len(b) {
			return pos, false
		}
		if maxOffset >= 0 && h.LastOffset() >= maxOffset {
			return pos, true
		}
		pos += h.Size()
	}
	return pos, false
}

// forEachBatch walks batch headers from offset to the log end (recovery and producer replay).
func (l *Log) forEachBatchLocked(from int64, fn func(BatchHeader) error) error {
	for _, s := range l.segments {
		if s.lastOffset < from {
			continue
		}
		r := headerReader{f: s.log, limit: s.size}
		for pos := int64(0); pos < s.size; {
			h, err := r.header(pos)
			if err != nil {
				return fmt.Errorf("segment %d at %d: %w", s.base, pos, err)
			}
			if h.LastOffset() >= from {
				if err := fn(h); err != nil {
					return err
				}
			}
			pos += int64(h.Size())
		}
	}
	return nil
}

// OffsetForTimestamp finds the first record whose timestamp is >= ts (ListOffsets by time): the
// time index narrows the search to a position, then batches are scanned and the one batch that
// crosses ts is decoded to find the exact record.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, ok bool) {
	l.mu.Lock()
	type cand struct {
		s     *segment
		size  int64
		from  int64
		index []offsetEntry
	}
	var cands []cand
	for _, s := range l.segments {
		if s.maxTimestamp >= ts {
			from := lookupTimeOffset(s.timeIndex.entries, s.base, ts)
			if from < l.logStartOffset {
				from = l.logStartOffset
			}
			cands = append(cands, cand{s, s.size, from, s.index.entries})
		}
	}
	start := l.logStartOffset
	l.mu.Unlock()
	for _, c := range cands {
		pos, _, found, err := c.s.locate(c.index, c.size, c.from)
		if err != nil || !found {
			continue
		}
		r := headerReader{f: c.s.log, limit: c.size}
		for pos < c.size {
			h, err := r.header(pos)
			if err != nil {
				break
			}
			if h.MaxTimestamp >= ts && h.LastOffset() >= start {
				batch := make([]byte, h.Size())
				if _, err := c.s.log.ReadAt(batch, pos); err != nil {
					break
				}
				if off, t, ok := firstRecordAtOrAfter(batch, ts, start); ok {
					return off, t, true
				}
			}
			pos += int64(h.Size())
		}
	}
	return -1, -1, false
}

// firstRecordAtOrAfter decodes one batch and returns its first record with timestamp >= ts.
func firstRecordAtOrAfter(batch []byte, ts, minOffset int64) (int64, int64, bool) {
	h, recs, err := DecodeRecords(batch)
	if err != nil {
		return -1, -1, false
	}
	for _, r := range recs {
		t := r.Timestamp
		if h.Attributes&attrTimestampType != 0 {
			t = h.MaxTimestamp
		}
		if t >= ts && r.Offset >= minOffset {
			return r.Offset, t, true
		}
	}
	return -1, -1, false
}

// MaxTimestamp returns the largest timestamp in the log and the offset of the record carrying
// it (ListOffsets MAX_TIMESTAMP); (-1, -1) for an empty log.
func (l *Log) MaxTimestamp() (timestamp, offset int64) {
	l.mu.Lock()
	var best *segment
	var size int64
	var entries []offsetEntry
	for _, s := range l.segments {
		if s.maxTimestamp >= 0 && (best == nil || s.maxTimestamp > best.maxTimestamp) {
			best, size, entries = s, s.size, s.index.entries
		}
	}
	if best == nil {
		l.mu.Unlock()
		return -1, -1
	}
	ts, off := best.maxTimestamp, best.offsetOfMaxTs
	l.mu.Unlock()
	// The segment knows the batch; decode it to name the exact record.
	pos, h, ok, err := best.locate(entries, size, off)
	if err != nil || !ok {
		return ts, off
	}
	batch := make([]byte, h.Size())
	if _, err := best.log.ReadAt(batch, pos); err != nil {
		return ts, off
	}
	if o, t, ok := firstRecordAtOrAfter(batch, ts, 0); ok && t == ts {
		return ts, o
	}
	return ts, off
}
