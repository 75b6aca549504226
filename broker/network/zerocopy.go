package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sys/unix"
)

// FileRange is bytes of a file that a response carries without copying them into memory.
type FileRange interface {
	// Range is the file and the byte range. f is nil when the file is not an *os.File (the
	// range is then copied from ra through a bounded buffer); ra always reads the same bytes.
	Range() (f *os.File, ra io.ReaderAt, off, n int64)
	// Intact reports that the range still holds the bytes it held when the response was
	// encoded. The writer checks it after sending and before the response's last byte goes
	// out, and closes the connection instead when it is false, so a client never receives a
	// complete response with other bytes in it.
	Intact() bool
}

// Section is where a FileRange's bytes go in an encoded response: at byte At of the fixed
// bytes (the fixed bytes before At precede it on the wire, the ones from At follow it).
type Section struct {
	At  int
	Src FileRange
}

// ZeroCopy is implemented by a response (Fetch) whose body carries file ranges. The network
// encodes it with AppendZeroCopy instead of AppendTo, sends the ranges with sendfile(2) in
// request order with the connection's other responses, and calls Release exactly once: after
// the response is written, or when the connection closes before it is.
type ZeroCopy interface {
	kmsg.Response
	// AppendZeroCopy appends the body's bytes except the file ranges to b (length prefixes
	// included, counting the ranges' bytes) and appends to secs where each range goes.
	AppendZeroCopy(b []byte, secs []Section) ([]byte, []Section)
	// Release drops whatever keeps the ranges' bytes readable.
	Release()
}

// errNotIntact closes a connection whose response's file bytes changed under the send.
var errNotIntact = errors.New("file range truncated while its response was being sent")

// encodeZeroCopy frames a ZeroCopy response like encodeResponse, the frame's size counting the
// file ranges. When the frame would end with file bytes, the last of them is read into the
// fixed bytes now (pread of one byte), so that the writer's Intact check always comes before
// the frame's final byte.
func encodeZeroCopy(corr int32, headerTags bool, resp ZeroCopy, secs []Section) (*[]byte, []Section, error) {
	bp := outPool.Get().(*[]byte)
	b := append((*bp)[:0], 0, 0, 0, 0)
	b = appendUint32(b, uint32(corr))
	if headerTags {
		b = append(b, 0)
	}
	b, secs = resp.AppendZeroCopy(b, secs)
	var fileBytes int64
	for _, s := range secs {
		_, _, _, n := s.Src.Range()
		fileBytes += n
	}
	if k := len(secs); k > 0 && secs[k-1].At == len(b) {
		last := secs[k-1].Src
		_, ra, off, n := last.Range()
		if n > 0 {
			var one [1]byte
			if _, err := ra.ReadAt(one[:], off+n-1); err != nil {
				*bp = b
				return bp, secs, fmt.Errorf("read the last byte of a file range: %w", err)
			}
			b = append(b, one[0])
			secs[k-1].Src = shortened{last}
			fileBytes--
		}
	}
	total := int64(len(b)-4) + fileBytes
	if total > 1<<31-1 {
		*bp = b
		return bp, secs, fmt.Errorf("response of %d bytes", total)
	}
	putUint32(b, uint32(total))
	*bp = b
	return bp, secs, nil
}

// shortened is a FileRange without its last byte (encodeZeroCopy put that byte in the fixed
// bytes).
type shortened struct{ FileRange }

func (s shortened) Range() (*os.File, io.ReaderAt, int64, int64) {
	f, ra, off, n := s.FileRange.Range()
	return f, ra, off, n - 1
}

// sendRange writes a file range to c: sendfile(2) from the file's descriptor to a TCP socket
// (explicit offsets: the file's position, shared by every reader, is never used), else a copy
// through a pooled 32 KiB buffer. It returns the bytes written.
func sendRange(c net.Conn, r FileRange) (int64, error) {
	f, ra, off, n := r.Range()
	if n <= 0 {
		return 0, nil
	}
	if tc, ok := c.(*net.TCPConn); ok && f != nil {
		if written, err, handled := sendfile(tc, f, off, n); handled {
			return written, err
		}
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(writerOnly{c}, io.NewSectionReader(ra, off, n), *bp)
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writerOnly hides a conn's ReadFrom so io.CopyBuffer uses the given buffer.
type writerOnly struct{ io.Writer }

// sendfile sends n bytes at off of f on tc. handled is false if the kernel refused sendfile
// before anything was sent (the caller copies instead).
func sendfile(tc *net.TCPConn, f *os.File, off, n int64) (written int64, err error, handled bool) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, nil, false
	}
	src := int(f.Fd())
	handled = true
	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		for written < n {
			m, e := unix.Sendfile(int(fd), src, &off, int(min(n-written, 1<<30)))
			if m > 0 {
				written += int64(m)
			}
			switch {
			case e == syscall.EAGAIN:
				return false // wait until the socket is writable (deadlines apply)
			case e == syscall.EINTR:
				continue
			case (e == syscall.EINVAL || e == syscall.ENOSYS || e == syscall.EOPNOTSUPP) && written == 0:
				handled = false
				return true
			case e != nil:
				serr = e
				return true
			case m == 0:
				serr = io.ErrUnexpectedEOF // the file is shorter than the range: truncated
				return true
			}
		}
		return true
	})
	if serr == nil {
		serr = werr
	}
	if serr != nil {
		serr = fmt.Errorf("sendfile %d bytes at %d: %w", n, off-written, serr)
	}
	return written, serr, handled
}

func appendUint32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func putUint32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
