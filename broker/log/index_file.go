package log

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// indexFile is an index's file, opened only for the moment an operation needs it. Entries live
// in memory (lookups never read the file), so keeping the descriptor open would cost two per
// segment for nothing: a broker with ten thousand partitions would hold thirty thousand files
// and reach common process limits (Kafka opens its indexes lazily for the same reason). The path
// is asked each time: the cleaner renames a segment's files (.cleaned, .swap) under it.
type indexFile struct {
	fs   vfs.FS
	path func() string
	// dirty: written or truncated since the last fsync. Atomic because a rolled segment is
	// fsynced in the background while the log (holding its lock) may write the new one's.
	dirty atomic.Bool
}

func (f *indexFile) open(flag int) (vfs.File, error) {
	return f.fs.OpenFile(f.path(), flag, 0o644)
}

// create makes sure the file exists (every segment has its two index files, as in Kafka).
func (f *indexFile) create() error {
	h, err := f.open(os.O_CREATE | os.O_RDWR)
	if err != nil {
		return err
	}
	return h.Close()
}

// readAll returns the file's bytes, refusing one larger than max.
func (f *indexFile) readAll(max int32, what string) ([]byte, error) {
	h, err := f.open(os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	st, err := h.Stat()
	if err != nil {
		return nil, err
	}
	n := st.Size()
	if n > int64(max) { // never written by us; do not read an arbitrary file into memory
		return nil, fmt.Errorf("%s of %d bytes is larger than segment.index.bytes %d", what, n, max)
	}
	buf := make([]byte, n)
	if _, err := h.ReadAt(buf, 0); err != nil && err != io.EOF && n > 0 {
		return nil, err
	}
	return buf, nil
}

func (f *indexFile) writeAt(b []byte, off int64) error {
	h, err := f.open(os.O_RDWR)
	if err != nil {
		return err
	}
	_, err = h.WriteAt(b, off)
	if cerr := h.Close(); err == nil {
		err = cerr
	}
	f.dirty.Store(true)
	return err
}

func (f *indexFile) truncate(size int64) error {
	h, err := f.open(os.O_RDWR)
	if err != nil {
		return err
	}
	err = h.Truncate(size)
	if cerr := h.Close(); err == nil {
		err = cerr
	}
	f.dirty.Store(true)
	return err
}

// fsync makes what was written durable; fsync flushes the file's pages whichever descriptor
// wrote them. A file already gone (retention or the cleaner removed the segment meanwhile) has
// nothing left to make durable.
func (f *indexFile) fsync() error {
	if !f.dirty.CompareAndSwap(true, false) {
		return nil // a write after this point sets it again, for the next fsync
	}
	h, err := f.open(os.O_RDWR)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		f.dirty.Store(true)
		return err
	}
	err = h.Sync()
	if cerr := h.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		f.dirty.Store(true)
	}
	return err
}
