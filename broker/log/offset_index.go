package log

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// offsetIndex is a segment's sparse `.index`: 8-byte entries of (offset - base, file position),
// Kafka's format. Entries are kept in memory for lookups and appended to the file as they are
// made; the file is the exact size of its entries (Kafka reads such a file as-is). Guarded by the
// owning Log's mutex for writes; lookups read a slice header taken under that mutex.
type offsetIndex struct {
	file    indexFile
	base    int64
	maxSize int32 // log.index.size.max.bytes
	entries []offsetEntry
	written int // entries already in the file; the rest are written by sync
}

type offsetEntry struct {
	rel int32 // offset - base
	pos int32 // byte position of the batch in the .log file
}

const offsetEntrySize = 8

func openOffsetIndex(fs vfs.FS, path func() string, base int64, maxSize int32) (*offsetIndex, error) {
	x := &offsetIndex{file: indexFile{fs: fs, path: path}, base: base, maxSize: maxSize}
	if err := x.file.create(); err != nil {
		return nil, fmt.Errorf("open offset index %s: %w", path(), err)
	}
	return x, nil
}

// load reads the file's entries and checks them against the log size; a bad index is reported
// so the caller rebuilds it rather than trusting it.
func (x *offsetIndex) load(logSize int64) error {
	buf, err := x.file.readAll(x.maxSize, "offset index")
	if err != nil {
		return err
	}
	entries, err := decodeOffsetIndex(buf, logSize, x.entries[:0])
	if err != nil {
		return err
	}
	x.entries, x.written = entries, len(entries)
	return nil
}

// decodeOffsetIndex reads an offset index file's bytes into dst: entries strictly increasing in
// both relative offset and position, every position inside the log's logSize bytes.
func decodeOffsetIndex(buf []byte, logSize int64, dst []offsetEntry) ([]offsetEntry, error) {
	if len(buf)%offsetEntrySize != 0 {
		return nil, fmt.Errorf("offset index size %d is not a multiple of %d", len(buf), offsetEntrySize)
	}
	lastRel, lastPos := int32(-1), int32(-1)
	for i := 0; i < len(buf); i += offsetEntrySize {
		e := offsetEntry{int32(binary.BigEndian.Uint32(buf[i:])), int32(binary.BigEndian.Uint32(buf[i+4:]))}
		if e.rel <= lastRel || e.pos <= lastPos || e.rel < 0 || int64(e.pos) >= logSize {
			return nil, fmt.Errorf("offset index entry %d (%d,%d) inconsistent", i/offsetEntrySize, e.rel, e.pos)
		}
		lastRel, lastPos = e.rel, e.pos
		dst = append(dst, e)
	}
	return dst, nil
}

func (x *offsetIndex) full() bool {
	return int64(len(x.entries)+1)*offsetEntrySize > int64(x.maxSize)
}

func (x *offsetIndex) append(offset int64, pos int32) error {
	e := offsetEntry{int32(offset - x.base), pos}
	if n := len(x.entries); n > 0 && e.rel <= x.entries[n-1].rel {
		return nil // Kafka keeps the index strictly increasing
	}
	x.entries = append(x.entries, e)
	return nil
}

// sync writes the entries not yet in the file, in one write. Appends only touch memory, as
// Kafka's memory-mapped index does, so the produce path makes no extra syscall per batch; an
// unflushed index is rebuilt by recovery after a crash.
func (x *offsetIndex) sync() error {
	if x.written == len(x.entries) {
		return nil
	}
	b := make([]byte, 0, (len(x.entries)-x.written)*offsetEntrySize)
	for _, e := range x.entries[x.written:] {
		b = binary.BigEndian.AppendUint32(b, uint32(e.rel))
		b = binary.BigEndian.AppendUint32(b, uint32(e.pos))
	}
	if err := x.file.writeAt(b, int64(x.written)*offsetEntrySize); err != nil {
		return fmt.Errorf("write offset index: %w", err)
	}
	x.written = len(x.entries)
	return nil
}

// lookup returns the position of the last entry at or below offset (0 if none).
func lookupPosition(entries []offsetEntry, base, offset int64) int32 {
	rel := offset - base
	i := sort.Search(len(entries), func(i int) bool { return int64(entries[i].rel) > rel })
	if i == 0 {
		return 0
	}
	return entries[i-1].pos
}

// truncateAt drops entries whose position is at or past pos (after a log truncation).
func (x *offsetIndex) truncateAt(pos int32) error {
	i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].pos >= pos })
	return x.truncateEntries(i)
}

func (x *offsetIndex) truncateEntries(n int) error {
	x.entries = x.entries[:n]
	if x.written > n {
		x.written = n
	}
	if err := x.file.truncate(int64(n) * offsetEntrySize); err != nil {
		return fmt.Errorf("truncate offset index: %w", err)
	}
	return nil
}

// reset empties the index (before a rebuild).
func (x *offsetIndex) reset() error { return x.truncateEntries(0) }
