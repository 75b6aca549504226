package network

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// requestHeader is the fixed part of a request header (v0/v1 and the start of v2).
type requestHeader struct {
	Key, Version  int16
	CorrelationID int32
	// ClientID aliases the frame; clientIDNull reports a null (-1 length) client id.
	ClientID     []byte
	ClientIDNull bool
}

var errShortHeader = errors.New("request header truncated")

// parseRequestHeader reads api key, version, correlation id and, except for ControlledShutdown
// v0 (request header v0), the nullable client id. It returns the bytes after them: for a
// flexible version those start with the header's tagged fields (skipTaggedFields).
func parseRequestHeader(frame []byte) (h requestHeader, rest []byte, err error) {
	if len(frame) < 8 {
		return h, nil, fmt.Errorf("%w: %d bytes", errShortHeader, len(frame))
	}
	h.Key = int16(binary.BigEndian.Uint16(frame[0:2]))
	h.Version = int16(binary.BigEndian.Uint16(frame[2:4]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:8]))
	rest = frame[8:]
	if h.Key == 7 && h.Version == 0 {
		// ControlledShutdown v0 predates the client id (header v0).
		h.ClientIDNull = true
		return h, rest, nil
	}
	if len(rest) < 2 {
		return h, nil, fmt.Errorf("%w: no client id length", errShortHeader)
	}
	// The client id stays a classic int16-length string even in header v2, so that brokers can
	// read it before knowing whether the version is flexible.
	n := int16(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	switch {
	case n == -1:
		h.ClientIDNull = true
	case n < -1:
		return h, nil, fmt.Errorf("client id length %d", n)
	case int(n) > len(rest):
		return h, nil, fmt.Errorf("%w: client id of %d bytes, %d left", errShortHeader, n, len(rest))
	default:
		h.ClientID = rest[:n:n]
		rest = rest[n:]
	}
	return h, rest, nil
}

// skipTaggedFields skips a tagged-field section (uvarint count, then per field a uvarint tag,
// a uvarint size and that many bytes). The request header defines no tags we use.
func skipTaggedFields(b []byte) ([]byte, error) {
	count, n := readUvarint(b)
	if n <= 0 {
		return nil, fmt.Errorf("tagged field count: bad uvarint")
	}
	b = b[n:]
	for i := uint32(0); i < count; i++ {
		tag, n := readUvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("tagged field %d: bad tag uvarint", i)
		}
		b = b[n:]
		size, n := readUvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("tagged field %d (tag %d): bad size uvarint", i, tag)
		}
		b = b[n:]
		if uint64(size) > uint64(len(b)) {
			return nil, fmt.Errorf("tagged field %d (tag %d): size %d, %d bytes left", i, tag, size, len(b))
		}
		b = b[size:]
	}
	return b, nil
}

// readUvarint decodes an unsigned varint of at most 5 bytes that fits in 32 bits, as Kafka
// writes them. It returns the number of bytes used, or <= 0 if b is truncated or the value
// overflows.
func readUvarint(b []byte) (uint32, int) {
	var v uint32
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, 0
		}
		c := b[i]
		if i == 4 && c > 0x0f {
			return 0, -1
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}
