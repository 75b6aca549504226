package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// File suffixes of Kafka's on-disk format.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	snapshotSuffix  = ".snapshot"
	deletedSuffix   = ".deleted"
	cleanedSuffix   = ".cleaned" // a segment the cleaner is writing
	swapSuffix      = ".swap"    // a cleaned segment being swapped in (see Log.replaceSegments)
)

// segmentName is the 20-digit, zero-padded base offset Kafka names every segment file with.
func segmentName(base int64) string { return fmt.Sprintf("%020d", base) }

func parseSegmentName(name, suffix string) (int64, bool) {
	if !strings.HasSuffix(name, suffix) {
		return 0, false
	}
	stem := strings.TrimSuffix(name, suffix)
	if len(stem) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(stem, 10, 64)
	return n, err == nil && n >= 0
}

// segment is one `.log` file with its two indexes. All mutation happens under the owning Log's
// mutex; readers use ReadAt on a file reference and a size they captured under that mutex, so
// they never see a half-appended batch.
type segment struct {
	fs   vfs.FS
	dir  string
	base int64
	// log is the open `.log` file, closed when the segment and every FileSlice of it are done.
	// nil while the segment is cold: not the active one, wholly below the recovery point, and
	// unread for a while (closeIfIdle). Under the owning Log's mutex, file() opens it again; a
	// reader outside that mutex holds a reference it took there, never s.log itself.
	log       *sharedFile
	used      bool // file() was called since the last closeIfIdle
	index     *offsetIndex
	timeIndex *timeIndex

	size          int64 // bytes of whole batches in the file
	lastOffset    int64 // offset of the last record, base-1 when empty
	maxTimestamp  int64 // largest batch max timestamp, -1 when empty
	offsetOfMaxTs int64
	firstBatchTs  int64 // max timestamp of the first batch; the roll clock (-1 when empty)
	sinceIndex    int64 // bytes appended since the last offset index entry
	interval      int32
	fileSuffix    string // "" for a live segment; cleanedSuffix or swapSuffix while being swapped in
}

func (s *segment) path(suffix string) string {
	return filepath.Join(s.dir, segmentName(s.base)+suffix+s.fileSuffix)
}

// file returns the segment's `.log` file, opening it again if it was closed while idle. The
// caller holds the owning Log's mutex.
func (s *segment) file() (*sharedFile, error) {
	if s.log == nil {
		f, err := s.fs.OpenFile(s.path(logSuffix), os.O_RDWR|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("reopen segment %d: %w", s.base, err)
		}
		s.log = newSharedFile(f)
	}
	s.used = true
	return s.log, nil
}

// acquireFile is file() with a reference for a reader that goes on without the Log's mutex; it
// releases the reference when done.
func (s *segment) acquireFile() (*sharedFile, error) {
	f, err := s.file()
	if err != nil {
		return nil, err
	}
	if !f.acquire() {
		return nil, ErrLogClosed // cannot happen while the log lists the segment; be safe
	}
	return f, nil
}

// closeIfIdle closes the file of a cold segment that nothing opened since the last call and no
// reader or FileSlice holds (every reference is taken under the Log's mutex, which the caller
// holds, so none can appear meanwhile). The caller checks the segment is not the active one and
// lies below the recovery point: a closed segment has nothing to flush. It reports whether it
// closed the file.
func (s *segment) closeIfIdle() bool {
	if s.log == nil {
		return false
	}
	if s.used {
		s.used = false
		return false
	}
	if s.log.refs.Load() != 1 {
		return false
	}
	_ = s.log.Close()
	s.log = nil
	return true
}

// createCleanedSegment creates the empty `.cleaned` files a cleaned segment is written into,
// replacing any left by an earlier, interrupted cleaning.
func createCleanedSegment(fs vfs.FS, dir string, base int64, cfg Config) (*segment, error) {
	s := &segment{fs: fs, dir: dir, base: base, lastOffset: base - 1, maxTimestamp: -1,
		offsetOfMaxTs: -1, firstBatchTs: -1, interval: cfg.IndexIntervalBytes, fileSuffix: cleanedSuffix}
	f, err := fs.OpenFile(s.path(logSuffix), os.O_CREATE|os.O_RDWR|os.O_APPEND|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create cleaned segment %d: %w", base, err)
	}
	s.log = newSharedFile(f)
	if s.index, err = openOffsetIndex(fs, func() string { return s.path(indexSuffix) }, base, cfg.MaxIndexSize); err != nil {
		s.log.Close()
		return nil, err
	}
	if s.timeIndex, err = openTimeIndex(fs, func() string { return s.path(timeIndexSuffix) }, base, cfg.MaxIndexSize); err != nil {
		s.log.Close()
		return nil, err
	}
	if err := s.index.reset(); err != nil {
		s.close()
		return nil, err
	}
	if err := s.timeIndex.reset(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// changeSuffix renames the segment's three files from their current suffix to to ("" = live),
// the log first, as Kafka does: recovery decides by the `.log` file.
// A failed rename puts back the files already renamed (best effort), so the names stay those of
// fileSuffix.
func (s *segment) changeSuffix(to string) error {
	from := s.fileSuffix
	name := func(suf, tmp string) string { return filepath.Join(s.dir, segmentName(s.base)+suf+tmp) }
	sufs := []string{logSuffix, indexSuffix, timeIndexSuffix}
	for i, suf := range sufs {
		if err := s.fs.Rename(name(suf, from), name(suf, to)); err != nil {
			for _, done := range sufs[:i] {
				_ = s.fs.Rename(name(done, to), name(done, from))
			}
			return fmt.Errorf("rename %s to %s: %w", segmentName(s.base)+suf+from, segmentName(s.base)+suf+to, err)
		}
	}
	s.fileSuffix = to
	return nil
}

// removeFiles deletes the segment's files under their current names (a cleaned segment that was
// not swapped in).
func (s *segment) removeFiles() {
	_ = s.close()
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		_ = s.fs.Remove(s.path(suf))
	}
}

// openSegment opens (creating if needed) the files of the segment starting at base. If it
// creates any of the three files it fsyncs the directory, so a crash cannot lose a segment or
// index file that later appends and checkpoints take for granted.
func openSegment(fs vfs.FS, dir string, base int64, cfg Config) (*segment, error) {
	s := &segment{fs: fs, dir: dir, base: base, lastOffset: base - 1, maxTimestamp: -1,
		offsetOfMaxTs: -1, firstBatchTs: -1, interval: cfg.IndexIntervalBytes}
	created := false
	for _, suf := range [...]string{logSuffix, indexSuffix, timeIndexSuffix} {
		if _, err := fs.Stat(s.path(suf)); os.IsNotExist(err) {
			created = true
		}
	}
	var err error
	f, err := fs.OpenFile(s.path(logSuffix), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open segment %d: %w", base, err)
	}
	s.log = newSharedFile(f)
	if s.index, err = openOffsetIndex(fs, func() string { return s.path(indexSuffix) }, base, cfg.MaxIndexSize); err != nil {
		s.log.Close()
		return nil, err
	}
	if s.timeIndex, err = openTimeIndex(fs, func() string { return s.path(timeIndexSuffix) }, base, cfg.MaxIndexSize); err != nil {
		s.log.Close()
		return nil, err
	}
	st, err := s.log.Stat()
	if err != nil {
		s.close()
		return nil, fmt.Errorf("stat segment %d: %w", base, err)
	}
	s.size = st.Size()
	if created {
		if err := fs.SyncDir(dir); err != nil {
			s.close()
			return nil, fmt.Errorf("fsync %s after creating segment %d: %w", dir, base, err)
		}
	}
	return s, nil
}

// append writes a set of batches, already stamped with their offsets, in one write, then
// indexes them. positions are relative to the start of records.
func (s *segment) append(records []byte, hdrs []BatchHeader) error {
	start := s.size
	// file(), not s.log: a truncation can make a cold segment the active one.
	f, err := s.file()
	if err != nil {
		return fmt.Errorf("append to segment %d: %w", s.base, err)
	}
	n, err := f.Write(records)
	if err == nil && n != len(records) {
		err = io.ErrShortWrite // a file system that reports a short count without an error
	}
	if err != nil {
		// A partial write leaves a torn tail; truncate back so the file holds whole batches.
		_ = f.Truncate(start)
		return fmt.Errorf("append to segment %d (%d of %d bytes written): %w", s.base, n, len(records), err)
	}
	pos := start
	for _, h := range hdrs {
		if err := s.indexBatch(h, pos); err != nil {
			return err
		}
		pos += int64(h.Size())
	}
	s.size = pos
	return nil
}

// indexBatch updates the segment's bookkeeping and indexes for the batch at pos.
func (s *segment) indexBatch(h BatchHeader, pos int64) error {
	if s.firstBatchTs < 0 {
		s.firstBatchTs = h.MaxTimestamp
	}
	if h.MaxTimestamp > s.maxTimestamp {
		s.maxTimestamp, s.offsetOfMaxTs = h.MaxTimestamp, h.LastOffset()
	}
	if s.sinceIndex > int64(s.interval) {
		if err := s.index.append(h.LastOffset(), int32(pos)); err != nil {
			return err
		}
		if err := s.timeIndex.maybeAppend(s.maxTimestamp, s.offsetOfMaxTs); err != nil {
			return err
		}
		s.sinceIndex = 0
	}
	s.sinceIndex += int64(h.Size())
	s.lastOffset = h.LastOffset()
	return nil
}

// sealTimeIndex records the segment's final max timestamp when it stops being active, as Kafka
// does, so time lookups find every segment's largest timestamp.
func (s *segment) sealTimeIndex() error {
	if s.maxTimestamp < 0 {
		return nil
	}
	return s.timeIndex.maybeAppend(s.maxTimestamp, s.offsetOfMaxTs)
}

// headerReader walks batch headers from a position with few syscalls: it reads ahead in chunks.
type headerReader struct {
	f     vfs.File
	limit int64 // bytes of the file that hold whole batches
	buf   []byte
	bufAt int64 // file position of buf[0]

	pooled *[headerChunk]byte // buf's backing array when from newHeaderReader
}

var headerBufs = sync.Pool{New: func() any { return new([headerChunk]byte) }}

// newHeaderReader is a headerReader with a pooled buffer; release returns it.
func newHeaderReader(f vfs.File, limit int64) headerReader {
	return headerReader{f: f, limit: limit, pooled: headerBufs.Get().(*[headerChunk]byte)}
}

func (r *headerReader) release() {
	if r.pooled != nil {
		headerBufs.Put(r.pooled)
		r.pooled, r.buf = nil, nil
	}
}

// headerChunk is how far a header walk reads ahead: index entries are every log.index.interval.bytes
// (4 KiB by default), so a lookup rarely walks further than that.
const headerChunk = 8 << 10

// header returns the batch header at pos; io.EOF at limit.
func (r *headerReader) header(pos int64) (BatchHeader, error) {
	if pos >= r.limit {
		return BatchHeader{}, io.EOF
	}
	if pos < r.bufAt || pos+batchHeaderSize > r.bufAt+int64(len(r.buf)) {
		n := int64(headerChunk)
		if rest := r.limit - pos; rest < n {
			n = rest
		}
		if n < batchHeaderSize {
			n = batchHeaderSize
		}
		if cap(r.buf) < int(n) {
			if r.pooled != nil {
				r.buf = r.pooled[:]
			} else {
				r.buf = make([]byte, n)
			}
		}
		r.buf = r.buf[:n]
		m, err := r.f.ReadAt(r.buf, pos)
		r.buf, r.bufAt = r.buf[:m], pos
		if m < batchHeaderSize {
			if err == nil || errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: truncated batch header at %d", ErrCorruptMessage, pos)
			}
			return BatchHeader{}, err
		}
	}
	return ParseBatchHeader(r.buf[pos-r.bufAt:])
}

// locate returns the position of the batch that holds offset (or the first batch after it),
// starting from the offset index; ok is false if the segment holds nothing at or past offset.
func (s *segment) locate(f *sharedFile, entries []offsetEntry, size, offset int64) (pos int64, h BatchHeader, ok bool, err error) {
	r := newHeaderReader(f, size)
	defer r.release()
	pos = int64(lookupPosition(entries, s.base, offset))
	for {
		h, err = r.header(pos)
		if err == io.EOF {
			return 0, h, false, nil
		}
		if err != nil {
			return 0, h, false, fmt.Errorf("segment %d at %d: %w", s.base, pos, err)
		}
		if h.LastOffset() >= offset {
			return pos, h, true, nil
		}
		pos += int64(h.Size())
	}
}

// recover scans the whole file, validating every batch (framing, CRC, offsets at or past
// expectNext when >= 0 and past the previous batch), truncates a torn or corrupt tail, and
// rebuilds both indexes. It returns the number of bytes truncated. With epochs, it appends each
// batch whose partition leader epoch is above the last one there (Kafka's LogSegment.recover
// rebuilding the leader-epoch cache): the epoch starts the log knows only from its batches.
func (s *segment) recover(expectNext int64, epochs *[]epochEntry) (int64, error) {
	st, err := s.log.Stat()
	if err != nil {
		return 0, err
	}
	fileSize := st.Size()
	if err := s.index.reset(); err != nil {
		return 0, err
	}
	if err := s.timeIndex.reset(); err != nil {
		return 0, err
	}
	s.size, s.lastOffset, s.maxTimestamp, s.offsetOfMaxTs, s.firstBatchTs, s.sinceIndex = 0, s.base-1, -1, -1, -1, 0
	var buf []byte
	pos := int64(0)
	next := expectNext
	for pos+logOverhead <= fileSize {
		var lenBuf [logOverhead]byte
		if _, err := s.log.ReadAt(lenBuf[:], pos); err != nil {
			break
		}
		length := int64(int32(binary.BigEndian.Uint32(lenBuf[offBatchLength:])))
		size := logOverhead + length
		if length < batchHeaderSize-logOverhead || pos+size > fileSize {
			break
		}
		if int64(cap(buf)) < size {
			buf = make([]byte, size)
		}
		b := buf[:size]
		if _, err := s.log.ReadAt(b, pos); err != nil {
			break
		}
		h, err := validateOne(b, 0, false)
		if err != nil {
			break
		}
		// Offsets only grow; gaps are legitimate (a compacted log, or batches a follower fetched
		// from one), so a batch must start at or after where the previous one ended.
		if (next >= 0 && h.BaseOffset < next) || h.BaseOffset < s.base {
			break
		}
		if err := s.indexBatch(h, pos); err != nil {
			return 0, err
		}
		if epochs != nil && h.PartitionLeaderEpoch >= 0 &&
			(len(*epochs) == 0 || h.PartitionLeaderEpoch > (*epochs)[len(*epochs)-1].Epoch) {
			*epochs = append(*epochs, epochEntry{h.PartitionLeaderEpoch, h.BaseOffset})
		}
		pos += size
		next = h.LastOffset() + 1
	}
	s.size = pos
	if pos < fileSize {
		if err := s.log.Truncate(pos); err != nil {
			return 0, fmt.Errorf("truncate segment %d at %d: %w", s.base, pos, err)
		}
	}
	return fileSize - pos, nil
}

// loadIndexes trusts the index files after a clean shutdown, but still checks them against the
// log; on any inconsistency the caller falls back to recover.
func (s *segment) loadIndexes() error {
	if err := s.index.load(s.size); err != nil {
		return err
	}
	// Find the last offset and the max timestamp by walking from the last index entry.
	r := headerReader{f: s.log, limit: s.size}
	var pos int64
	if n := len(s.index.entries); n > 0 {
		pos = int64(s.index.entries[n-1].pos)
	}
	for pos < s.size {
		h, err := r.header(pos)
		if err != nil {
			return err
		}
		if h.BaseOffset < s.base {
			return fmt.Errorf("batch at %d has offset %d below the segment base", pos, h.BaseOffset)
		}
		// The headers walked must describe offsets that go forward, or nothing built on them
		// (the log end, the next offset assigned) can be trusted: recover instead.
		if h.LastOffsetDelta < 0 || h.BaseOffset <= s.lastOffset {
			return fmt.Errorf("batch at %d: offsets %d..%d do not follow %d", pos, h.BaseOffset, h.LastOffset(), s.lastOffset)
		}
		s.lastOffset = h.LastOffset()
		if s.firstBatchTs < 0 && pos == 0 {
			s.firstBatchTs = h.MaxTimestamp
		}
		pos += int64(h.Size())
	}
	if pos != s.size {
		return fmt.Errorf("batches end at %d, file is %d bytes", pos, s.size)
	}
	if err := s.timeIndex.load(s.lastOffset); err != nil {
		return err
	}
	if s.firstBatchTs < 0 && s.size > 0 {
		h, err := r.header(0)
		if err != nil {
			return err
		}
		s.firstBatchTs = h.MaxTimestamp
	}
	if n := len(s.timeIndex.entries); n > 0 {
		e := s.timeIndex.entries[n-1]
		s.maxTimestamp, s.offsetOfMaxTs = e.ts, s.base+int64(e.rel)
	}
	// A segment sealed by Kafka's rules has its max timestamp in the time index; the active one
	// may not, so scan the tail past the last time-index entry for the true maximum.
	start := int64(0)
	if n := len(s.index.entries); n > 0 {
		start = int64(s.index.entries[n-1].pos)
	}
	for pos := start; pos < s.size; {
		h, err := r.header(pos)
		if err != nil {
			return err
		}
		if h.MaxTimestamp > s.maxTimestamp {
			s.maxTimestamp, s.offsetOfMaxTs = h.MaxTimestamp, h.LastOffset()
		}
		pos += int64(h.Size())
	}
	s.sinceIndex = s.size - start
	return nil
}

// truncateTo removes every batch whose last offset is >= offset; a batch straddling offset goes
// whole, as in Kafka. It returns the new next offset of the segment.
func (s *segment) truncateTo(offset int64) (int64, error) {
	f, err := s.file()
	if err != nil {
		return 0, err
	}
	pos, h, ok, err := s.locate(f, s.index.entries, s.size, offset)
	if err != nil {
		return 0, err
	}
	if !ok {
		return s.lastOffset + 1, nil
	}
	if err := f.Truncate(pos); err != nil {
		return 0, fmt.Errorf("truncate segment %d: %w", s.base, err)
	}
	if err := s.index.truncateAt(int32(pos)); err != nil {
		return 0, err
	}
	if err := s.timeIndex.truncateAfterOffset(h.BaseOffset); err != nil {
		return 0, err
	}
	// Rebuild the in-memory bookkeeping from what is left.
	if _, err := s.recover(-1, nil); err != nil {
		return 0, err
	}
	return h.BaseOffset, nil
}

// syncIndexes writes index entries kept in memory to their files (no fsync).
func (s *segment) syncIndexes() error {
	if err := s.index.sync(); err != nil {
		return err
	}
	return s.timeIndex.sync()
}

func (s *segment) flush() error {
	if err := s.syncIndexes(); err != nil {
		return err
	}
	if s.log == nil {
		return nil // cold: below the recovery point, durable already
	}
	return s.fsync(s.log)
}

// fsync makes the segment's files durable; it touches no in-memory state, so a rolled segment
// can be fsynced in the background while the log goes on.
func (s *segment) fsync(f *sharedFile) error {
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync segment %d: %w", s.base, err)
	}
	if err := s.index.file.fsync(); err != nil {
		return fmt.Errorf("fsync index %d: %w", s.base, err)
	}
	if err := s.timeIndex.file.fsync(); err != nil {
		return fmt.Errorf("fsync time index %d: %w", s.base, err)
	}
	return nil
}

// closeFile drops the segment's reference on its file, writing nothing (a failed directory).
func (s *segment) closeFile() {
	if s.log != nil {
		_ = s.log.Close()
	}
}

func (s *segment) close() error {
	err := s.syncIndexes()
	if s.log == nil {
		return err
	}
	if e := s.log.Close(); err == nil {
		err = e
	}
	return err
}

// markDeleted renames the segment's files with Kafka's `.deleted` suffix; removeFiles deletes
// them later (file.delete.delay.ms), so a reader holding the segment finishes first.
func (s *segment) markDeleted() error {
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		if err := s.fs.Rename(s.path(suf), s.path(suf)+deletedSuffix); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("rename segment %d%s for deletion: %w", s.base, suf, err)
		}
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		return fmt.Errorf("fsync %s after renaming segment %d for deletion: %w", s.dir, s.base, err)
	}
	return nil
}

func (s *segment) removeDeleted() error {
	_ = s.close()
	var first error
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		if err := s.fs.Remove(s.path(suf) + deletedSuffix); err != nil && !os.IsNotExist(err) && first == nil {
			first = err
		}
	}
	return first
}
