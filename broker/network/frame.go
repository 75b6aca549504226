package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// eagerFrameBytes is the largest frame allocated in full as soon as its size is known. Larger
// frames grow (doubling, capped at the frame size) while their bytes arrive, so announcing a
// 100 MB frame costs the server memory only once the bytes are actually sent.
const eagerFrameBytes = 1 << 20

// frameSizeError is a size prefix outside 0..max; the connection must be closed.
type frameSizeError struct{ Size, Max int32 }

func (e *frameSizeError) Error() string {
	return fmt.Sprintf("invalid request size %d (allowed 0..%d)", e.Size, e.Max)
}

// readFrame reads one size-prefixed frame from r. sizeBuf is the caller's reusable prefix
// buffer. It returns io.EOF only when r ends exactly between frames; the returned frame has
// exactly the announced length and capacity, and belongs to the caller.
func readFrame(r io.Reader, sizeBuf *[4]byte, max int32) ([]byte, error) {
	if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("read request size: %w", err)
		}
		return nil, err // io.EOF between frames, or the transport's error, unwrapped for callers
	}
	size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
	if size < 0 || size > max {
		return nil, &frameSizeError{Size: size, Max: max}
	}
	frame, err := readBody(r, int(size))
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read request of %d bytes: %w", size, err)
	}
	return frame, nil
}

func readBody(r io.Reader, size int) ([]byte, error) {
	if size <= eagerFrameBytes {
		buf := make([]byte, size)
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	buf := make([]byte, 0, eagerFrameBytes)
	for len(buf) < size {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), size))
			copy(grown, buf)
			buf = grown
		}
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}
