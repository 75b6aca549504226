package log

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// sharedFile is a segment's `.log` file as the segment and the fetches sending from it share it.
// The segment holds one reference from open until its Close; every FileSlice holds one more
// until it is released, and the descriptor is closed when the last goes. So a segment deleted
// (retention, DeleteRecords, a partition removed) or closed while a fetch response that refers
// to it waits in a connection's queue keeps its bytes readable, and its descriptor is never
// reused under the send: an unlinked file's bytes stay as they were while it is open.
//
// Truncation in place (a follower cutting a diverged tail, an append undone) is the one thing
// that changes bytes a slice may cover; truncs counts them so a sender can tell, before and
// after it sends, that its range still holds what it held when the slice was taken
// (FileSlice.Intact).
type sharedFile struct {
	vfs.File
	refs   atomic.Int64  // the segment's own reference (until Close) + one per live FileSlice
	closed atomic.Bool   // the segment's Close ran
	truncs atomic.Uint64 // truncations in place so far; bumped before each one starts
}

func newSharedFile(f vfs.File) *sharedFile {
	s := &sharedFile{File: f}
	s.refs.Store(1)
	return s
}

// Close drops the segment's reference. The descriptor closes now, or when the last slice that
// refers to it is released; a second Close answers os.ErrClosed as an *os.File does.
func (f *sharedFile) Close() error {
	if !f.closed.CompareAndSwap(false, true) {
		return os.ErrClosed
	}
	return f.release()
}

func (f *sharedFile) release() error {
	if f.refs.Add(-1) == 0 {
		return f.File.Close()
	}
	return nil
}

// acquire takes a reference; false once the descriptor is closed for good.
func (f *sharedFile) acquire() bool {
	for {
		n := f.refs.Load()
		if n <= 0 {
			return false
		}
		if f.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Truncate marks the truncation before it starts, so a sender that checks truncs after its
// send knows whether the bytes it read may be the new ones.
func (f *sharedFile) Truncate(size int64) error {
	f.truncs.Add(1)
	return f.File.Truncate(size)
}

// FileSlice is a byte range of whole record batches in a segment file, readable until Release.
type FileSlice struct {
	f      *sharedFile
	pos, n int64
	truncs uint64 // f.truncs when the range was taken
}

// Range is the slice's file and byte range. os is the *os.File beneath the storage seam for
// sendfile (nil when the file system is not the OS's); ra always reads the same bytes.
func (s *FileSlice) Range() (osFile *os.File, ra io.ReaderAt, off, n int64) {
	return vfs.OSFile(s.f.File), s.f.File, s.pos, s.n
}

// Intact reports that no truncation in place has started since the slice was taken, so its
// range holds the bytes it held then (appends never rewrite bytes; deletion keeps them while
// the slice holds the file open).
func (s *FileSlice) Intact() bool { return s.f.truncs.Load() == s.truncs }

// Records is the result of Log.ReadRecords: whole batches as one or more file slices, in log
// order. The zero value is empty. The slices hold their files open: call Release exactly once
// when the bytes have been sent or copied.
type Records struct {
	size   int64
	n      int
	inline [2]FileSlice // a read spans one segment, rarely two
	more   []FileSlice
	// FirstOffset is the base offset of the first batch, NextOffset one past the last batch's
	// last offset (both -1 when empty): the offsets the records span.
	FirstOffset, NextOffset int64
}

// Len is the byte count of all the batches.
func (r *Records) Len() int64 { return r.size }

// Slices is how many file slices the records span.
func (r *Records) Slices() int { return r.n }

// Slice returns the i-th file slice; it stays valid until Release.
func (r *Records) Slice(i int) *FileSlice {
	if i < len(r.inline) {
		return &r.inline[i]
	}
	return &r.more[i-len(r.inline)]
}

func (r *Records) add(s FileSlice) {
	if r.n < len(r.inline) {
		r.inline[r.n] = s
	} else {
		r.more = append(r.more, s)
	}
	r.n++
	r.size += s.n
}

// Release drops the file references. Safe on the zero value; a second call does nothing.
func (r *Records) Release() {
	for i := 0; i < r.n; i++ {
		_ = r.Slice(i).f.release()
	}
	*r = Records{FirstOffset: r.FirstOffset, NextOffset: r.NextOffset}
}

// AppendTo appends the batches' bytes to b (the copying path: tests, group loading, writers that
// cannot sendfile). It fails if a slice was truncated in place since it was taken.
func (r *Records) AppendTo(b []byte) ([]byte, error) {
	if int64(cap(b)-len(b)) < r.size {
		grown := make([]byte, len(b), int64(len(b))+r.size)
		copy(grown, b)
		b = grown
	}
	for i := 0; i < r.n; i++ {
		s := r.Slice(i)
		start := len(b)
		b = b[:start+int(s.n)]
		if _, err := s.f.ReadAt(b[start:], s.pos); err != nil {
			return b[:start], fmt.Errorf("read %d bytes at %d: %w", s.n, s.pos, err)
		}
		if !s.Intact() {
			return b[:start], fmt.Errorf("segment truncated while reading %d bytes at %d", s.n, s.pos)
		}
	}
	return b, nil
}
