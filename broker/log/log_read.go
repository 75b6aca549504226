package log

import (
	"fmt"
	"io"
	"sort"
)

// segView is what a reader captures under the log's mutex: enough to read a segment's bytes
// without holding the lock, and a reference that keeps its file open meanwhile.
type segView struct {
	s          *segment
	f          *sharedFile // s's file, with the view's reference
	size       int64
	entries    []offsetEntry
	lastOffset int64
	held       bool // the view's file reference is still the view's (not handed to a slice)
}

// capture takes views of the segment holding offset and of the ones after it that a read of
// maxBytes can reach (at least two, for a first batch in the next segment), each with a
// reference on its file.
func (l *Log) capture(offset, maxBytes int64, out []segView) ([]segView, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return out, ErrLogClosed
	}
	if offset < l.logStartOffset || offset > l.nextOffset {
		return out, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, offset, l.logStartOffset, l.nextOffset)
	}
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > offset }) - 1
	if i < 0 {
		i = 0
	}
	var after int64 // bytes of the captured segments after the first
	for j, s := range l.segments[i:] {
		if j > 1 && after >= maxBytes {
			break
		}
		f, err := s.acquireFile()
		if err != nil {
			return out, err
		}
		out = append(out, segView{s: s, f: f, size: s.size, entries: s.index.entries, lastOffset: s.lastOffset, held: true})
		if j > 0 {
			after += s.size
		}
	}
	return out, nil
}

// Read returns whole batches starting with the one that holds offset, up to maxBytes, and only
// batches whose last offset is below maxOffset (the high watermark for consumers; -1: no bound).
// With minOneBatch the first batch is returned whole even if it is larger than maxBytes, as Kafka
// does so a consumer can always make progress. Reading at the log end returns nothing. It is
// ReadRecords with the bytes copied into one buffer; no batch is decoded.
func (l *Log) Read(offset int64, maxBytes int32, maxOffset int64, minOneBatch bool) ([]byte, error) {
	recs, err := l.ReadRecords(offset, maxBytes, maxOffset, minOneBatch)
	defer recs.Release()
	if err != nil || recs.Len() == 0 {
		return nil, err
	}
	return recs.AppendTo(nil)
}

// ReadRecords is Read without the copy: the batches are returned as ranges of the segment files,
// which stay open (even if the segments are deleted) until the caller releases them. Batch
// boundaries come from the offset index and a few batch headers — at the start, at maxOffset and
// at the maxBytes cut — never from reading the bytes in between.
func (l *Log) ReadRecords(offset int64, maxBytes int32, maxOffset int64, minOneBatch bool) (Records, error) {
	recs := Records{FirstOffset: -1, NextOffset: -1}
	var buf [4]segView
	views, err := l.capture(offset, int64(max(maxBytes, 0)), buf[:0])
	defer func() {
		for i := range views {
			if views[i].held {
				_ = views[i].f.release()
			}
		}
	}()
	if err != nil || maxBytes < 0 {
		return recs, err
	}
	budget := int64(maxBytes)
	for vi := range views {
		v := &views[vi]
		var pos int64
		base := v.s.base // the first batch's base offset, near enough for a segment's start
		if vi == 0 {
			p, h, ok, err := v.s.locate(v.f, v.entries, v.size, offset)
			if err != nil {
				return recs, err
			}
			if !ok {
				continue // offset is past this segment's batches (a gap compaction left)
			}
			pos, base = p, h.BaseOffset
		}
		if pos >= v.size {
			continue // an empty segment (compaction can leave one) holds nothing to return
		}
		first := minOneBatch && recs.size == 0
		// limit is a batch boundary: the segment's end, or the start of the batch holding
		// maxOffset; every batch before it ends below maxOffset.
		limit, next := v.size, v.lastOffset+1
		if maxOffset >= 0 && maxOffset <= v.lastOffset {
			p, h, ok, err := v.s.locate(v.f, v.entries, v.size, maxOffset)
			if err != nil {
				return recs, err
			}
			if ok {
				limit, next = p, h.BaseOffset
			}
		}
		if limit <= pos {
			return recs, nil // the batch at pos reaches maxOffset, and so does everything after
		}
		end := limit
		if limit-pos > budget {
			if end, next, err = v.s.boundaryBefore(v.f, v.entries, pos, pos+budget, limit); err != nil {
				return recs, err
			}
			if end == pos {
				if !first {
					return recs, nil
				}
				// Not one whole batch fits the budget: the first batch goes whole anyway.
				r := newHeaderReader(v.f, limit)
				h, err := r.header(pos)
				r.release()
				if err != nil {
					return recs, fmt.Errorf("segment %d at %d: %w", v.s.base, pos, err)
				}
				end, next = pos+int64(h.Size()), h.LastOffset()+1
			}
		}
		recs.add(FileSlice{f: v.f, pos: pos, n: end - pos, truncs: v.f.truncs.Load()})
		v.held = false // the slice has the view's reference now
		if recs.FirstOffset < 0 {
			recs.FirstOffset = base
		}
		recs.NextOffset = next
		budget -= end - pos
		if end < v.size || budget < batchHeaderSize {
			return recs, nil // cut by maxOffset or maxBytes: nothing after it may follow
		}
	}
	return recs, nil
}

// boundaryBefore returns the last batch boundary in [pos, cut] (pos if the batch at pos ends
// past cut) and the offset after the batches before it. It starts from the last index entry at
// or before cut, so it reads a few batch headers, not the bytes between pos and cut. limit is
// the batch boundary the read stops at anyway (>= cut).
func (s *segment) boundaryBefore(f *sharedFile, entries []offsetEntry, pos, cut, limit int64) (int64, int64, error) {
	from := pos
	i := sort.Search(len(entries), func(i int) bool { return int64(entries[i].pos) > cut })
	if i > 0 && int64(entries[i-1].pos) > pos {
		from = int64(entries[i-1].pos)
	}
	r := newHeaderReader(f, limit)
	defer r.release()
	next := int64(-1)
	for p := from; ; {
		h, err := r.header(p)
		if err != nil {
			if err == io.EOF {
				return p, next, nil
			}
			return pos, -1, fmt.Errorf("segment %d at %d: %w", s.base, p, err)
		}
		if p+int64(h.Size()) > cut {
			if next < 0 {
				next = h.BaseOffset
			}
			return p, next, nil
		}
		p += int64(h.Size())
		next = h.LastOffset() + 1
	}
}

// forEachBatch walks batch headers from offset to the log end (recovery and producer replay).
func (l *Log) forEachBatchLocked(from int64, fn func(BatchHeader) error) error {
	for _, s := range l.segments {
		if s.lastOffset < from {
			continue
		}
		f, err := s.file()
		if err != nil {
			return err
		}
		r := headerReader{f: f, limit: s.size}
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
		// The first candidate almost always answers: files are taken one at a time, so a
		// ListOffsets does not open every cold segment at once.
		if off, t, ok := func() (int64, int64, bool) {
			f, err := l.segmentFile(c.s)
			if err != nil {
				return -1, -1, false
			}
			defer f.release()
			return offsetForTimestampIn(c.s, f, c.index, c.size, c.from, ts, start)
		}(); ok {
			return off, t, true
		}
	}
	return -1, -1, false
}

// offsetForTimestampIn scans one candidate segment of OffsetForTimestamp, from offset from.
func offsetForTimestampIn(s *segment, f *sharedFile, index []offsetEntry, size, from, ts, start int64) (int64, int64, bool) {
	pos, _, found, err := s.locate(f, index, size, from)
	if err != nil || !found {
		return -1, -1, false
	}
	r := headerReader{f: f, limit: size}
	for pos < size {
		h, err := r.header(pos)
		if err != nil {
			break
		}
		if h.MaxTimestamp >= ts && h.LastOffset() >= start {
			batch := make([]byte, h.Size())
			if _, err := f.ReadAt(batch, pos); err != nil {
				break
			}
			if off, t, ok := firstRecordAtOrAfter(batch, ts, start); ok {
				return off, t, true
			}
		}
		pos += int64(h.Size())
	}
	return -1, -1, false
}

// segmentFile takes a reference on the file of s, a segment a reader captured under the log's
// mutex and released it since. It fails if s is no longer one of the log's segments: its name
// may belong to another file by now.
func (l *Log) segmentFile(s *segment) (*sharedFile, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrLogClosed
	}
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base >= s.base })
	if i == len(l.segments) || l.segments[i] != s {
		return nil, fmt.Errorf("segment %d: %w", s.base, errSegmentGone)
	}
	return s.acquireFile()
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
	f, err := l.segmentFile(best)
	if err != nil {
		return ts, off
	}
	defer f.release()
	pos, h, ok, err := best.locate(f, entries, size, off)
	if err != nil || !ok {
		return ts, off
	}
	batch := make([]byte, h.Size())
	if _, err := f.ReadAt(batch, pos); err != nil {
		return ts, off
	}
	if o, t, ok := firstRecordAtOrAfter(batch, ts, 0); ok && t == ts {
		return ts, o
	}
	return ts, off
}
