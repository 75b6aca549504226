package log

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// timeIndex is a segment's `.timeindex`: 12-byte entries of (max timestamp so far, offset - base),
// Kafka's format, appended only when the timestamp grows so a binary search finds the first
// offset whose batch may hold a timestamp >= the target. Same ownership as offsetIndex.
type timeIndex struct {
	file    indexFile
	base    int64
	maxSize int32
	entries []timeEntry
	written int // entries already in the file (see offsetIndex.sync)
}

type timeEntry struct {
	ts  int64
	rel int32
}

const timeEntrySize = 12

func openTimeIndex(fs vfs.FS, path func() string, base int64, maxSize int32) (*timeIndex, error) {
	x := &timeIndex{file: indexFile{fs: fs, path: path}, base: base, maxSize: maxSize}
	if err := x.file.create(); err != nil {
		return nil, fmt.Errorf("open time index %s: %w", path(), err)
	}
	return x, nil
}

func (x *timeIndex) load(lastOffset int64) error {
	buf, err := x.file.readAll(x.maxSize, "time index")
	if err != nil {
		return err
	}
	entries, err := decodeTimeIndex(buf, x.base, lastOffset, x.entries[:0])
	if err != nil {
		return err
	}
	x.entries, x.written = entries, len(entries)
	return nil
}

// decodeTimeIndex reads a time index file's bytes into dst: timestamps strictly increasing,
// relative offsets non-decreasing and not past the segment's lastOffset.
func decodeTimeIndex(buf []byte, base, lastOffset int64, dst []timeEntry) ([]timeEntry, error) {
	if len(buf)%timeEntrySize != 0 {
		return nil, fmt.Errorf("time index size %d is not a multiple of %d", len(buf), timeEntrySize)
	}
	lastTs, lastRel := int64(-1<<63), int32(-1)
	for i := 0; i < len(buf); i += timeEntrySize {
		e := timeEntry{int64(binary.BigEndian.Uint64(buf[i:])), int32(binary.BigEndian.Uint32(buf[i+8:]))}
		if e.ts <= lastTs || e.rel < lastRel || e.rel < 0 || base+int64(e.rel) > lastOffset {
			return nil, fmt.Errorf("time index entry %d (%d,%d) inconsistent", i/timeEntrySize, e.ts, e.rel)
		}
		lastTs, lastRel = e.ts, e.rel
		dst = append(dst, e)
	}
	return dst, nil
}

func (x *timeIndex) full() bool {
	return int64(len(x.entries)+1)*timeEntrySize > int64(x.maxSize)
}

func (x *timeIndex) lastTimestamp() int64 {
	if len(x.entries) == 0 {
		return -1
	}
	return x.entries[len(x.entries)-1].ts
}

// maybeAppend adds (ts, offset) if ts is larger than the last entry's timestamp.
func (x *timeIndex) maybeAppend(ts, offset int64) error {
	if n := len(x.entries); n > 0 && ts <= x.entries[n-1].ts {
		return nil
	}
	x.entries = append(x.entries, timeEntry{ts, int32(offset - x.base)})
	return nil
}

// sync writes the entries not yet in the file, in one write.
func (x *timeIndex) sync() error {
	if x.written == len(x.entries) {
		return nil
	}
	b := make([]byte, 0, (len(x.entries)-x.written)*timeEntrySize)
	for _, e := range x.entries[x.written:] {
		b = binary.BigEndian.AppendUint64(b, uint64(e.ts))
		b = binary.BigEndian.AppendUint32(b, uint32(e.rel))
	}
	if err := x.file.writeAt(b, int64(x.written)*timeEntrySize); err != nil {
		return fmt.Errorf("write time index: %w", err)
	}
	x.written = len(x.entries)
	return nil
}

// lookupOffset returns the offset of the last entry whose timestamp is below ts, from which a
// scan finds the first record with timestamp >= ts (base if none).
func lookupTimeOffset(entries []timeEntry, base, ts int64) int64 {
	i := sort.Search(len(entries), func(i int) bool { return entries[i].ts >= ts })
	if i == 0 {
		return base
	}
	return base + int64(entries[i-1].rel)
}

func (x *timeIndex) truncateAfterOffset(offset int64) error {
	i := sort.Search(len(x.entries), func(i int) bool { return x.base+int64(x.entries[i].rel) >= offset })
	return x.truncateEntries(i)
}

func (x *timeIndex) truncateEntries(n int) error {
	x.entries = x.entries[:n]
	if x.written > n {
		x.written = n
	}
	if err := x.file.truncate(int64(n) * timeEntrySize); err != nil {
		return fmt.Errorf("truncate time index: %w", err)
	}
	return nil
}

func (x *timeIndex) reset() error { return x.truncateEntries(0) }
