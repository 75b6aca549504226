package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"
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
	size, err := readFrameSize(r, sizeBuf, max)
	if err != nil {
		return nil, err
	}
	return readFrameBody(r, size)
}

// readFrameSize reads and checks a frame's size prefix; the server reserves that much request
// memory before readFrameBody allocates anything.
func readFrameSize(r io.Reader, sizeBuf *[4]byte, max int32) (int32, error) {
	if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, fmt.Errorf("read request size: %w", err)
		}
		return 0, err // io.EOF between frames, or the transport's error, unwrapped for callers
	}
	size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
	if size < 0 || size > max {
		return 0, &frameSizeError{Size: size, Max: max}
	}
	return size, nil
}

// readFrameBody reads a frame of the given size (from readFrameSize).
func readFrameBody(r io.Reader, size int32) ([]byte, error) {
	frame, err := readBody(r, int(size))
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read request of %d bytes: %w", size, err)
	}
	return frame, nil
}

// apiKeyLimit bounds the API keys a frame pool is kept for (Kafka's are below 100).
const apiKeyLimit = 128

// Frames of recycled keys (Options.Recycled) come from pools by size class: class k holds
// buffers of capacity >= 1<<k. Above maxPooledFrame frames are not pooled (they grow while they
// arrive, as any frame above eagerFrameBytes does). Below it a pooled frame is allocated whole
// when the pool is empty: at most twice the size already reserved in the request memory pool.
const (
	minFrameClass  = 10 // 1 KiB
	maxFrameClass  = 23 // 8 MiB
	maxPooledFrame = 1 << maxFrameClass
)

var framePools [maxFrameClass + 1]sync.Pool

// frameClass is the smallest class whose buffers hold size bytes.
func frameClass(size int) int {
	return max(minFrameClass, bits.Len(uint(size-1)))
}

// getFrame returns a buffer of length size from the pools, or nil when size is not pooled.
func getFrame(size int) *[]byte {
	if size <= 0 || size > maxPooledFrame {
		return nil
	}
	k := frameClass(size)
	if bp, ok := framePools[k].Get().(*[]byte); ok {
		*bp = (*bp)[:size]
		return bp
	}
	b := make([]byte, size, 1<<k)
	return &b
}

// putFrame returns a frame from getFrame; nothing may refer to its bytes any more.
func putFrame(bp *[]byte) {
	c := cap(*bp)
	if c < 1<<minFrameClass || c > maxPooledFrame {
		return
	}
	k := bits.Len(uint(c)) - 1 // the largest class c still fills
	*bp = (*bp)[:0]
	framePools[k].Put(bp)
}

// noEOF reports a frame cut short as io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
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
