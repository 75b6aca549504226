package log

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// The record reader decodes the records inside a batch. It exists for tools (dump-log), the time
// index lookup of one batch, and compaction — never for the produce or fetch path, which move
// batches as opaque bytes.

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one decoded record with its absolute offset and timestamp.
type Record struct {
	Offset    int64
	Timestamp int64
	Key       []byte // nil for a null key
	Value     []byte // nil for a null value (tombstone)
	Headers   []Header
}

// Compression codec names, by attribute id.
var codecNames = [...]string{"none", "gzip", "snappy", "lz4", "zstd"}

// CodecName names a codec id.
func CodecName(id int) string {
	if id >= 0 && id < len(codecNames) {
		return codecNames[id]
	}
	return fmt.Sprintf("unknown(%d)", id)
}

var errShortRecord = errors.New("record truncated")

// minRecordSize is the smallest encoded record: length, attributes, timestamp delta, offset
// delta, key length, value length and header count, one byte each.
const minRecordSize = 7

// DecodeRecords validates a batch and returns its header and records, decompressing gzip,
// snappy (raw or xerial-framed, as the Java client writes it), lz4 (frame format) and zstd.
func DecodeRecords(batch []byte) (BatchHeader, []Record, error) {
	h, err := validateOne(batch, 0, false)
	if err != nil {
		return h, nil, err
	}
	body := batch[batchHeaderSize:h.Size()]
	if c := h.Compression(); c != 0 {
		if body, err = decompress(c, body); err != nil {
			return h, nil, fmt.Errorf("%w: %s: %v", ErrCorruptMessage, CodecName(c), err)
		}
	}
	// A record takes at least 7 bytes, so the body bounds the count whatever the header says.
	recs := make([]Record, 0, min(int(h.NumRecords), len(body)/minRecordSize+1))
	for i := int32(0); i < h.NumRecords; i++ {
		r, n, err := decodeRecord(body, h)
		if err != nil {
			return h, recs, fmt.Errorf("%w: record %d: %v", ErrCorruptMessage, i, err)
		}
		recs = append(recs, r)
		body = body[n:]
	}
	if len(body) > 0 {
		// Kafka's DefaultRecordBatch iterator: "Incorrect declared batch size, records still
		// remaining in file" (InvalidRecordException).
		return h, recs, fmt.Errorf("%w: %d bytes after the %d declared records", ErrCorruptMessage, len(body), h.NumRecords)
	}
	return h, recs, nil
}

type varReader struct {
	b   []byte
	pos int
	err error
}

func (r *varReader) varlong() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.pos:])
	if n <= 0 {
		r.err = errShortRecord
		return 0
	}
	r.pos += n
	return v
}

func (r *varReader) bytes() []byte {
	n := r.varlong()
	if r.err != nil || n < 0 {
		return nil
	}
	if int64(len(r.b)-r.pos) < n {
		r.err = errShortRecord
		return nil
	}
	out := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return out
}

func decodeRecord(b []byte, h BatchHeader) (Record, int, error) {
	r := &varReader{b: b}
	length := r.varlong()
	if r.err != nil {
		return Record{}, 0, r.err
	}
	if length < 0 || int64(len(b)-r.pos) < length {
		return Record{}, 0, errShortRecord
	}
	end := r.pos + int(length)
	r.b = b[:end]
	if r.pos >= end {
		return Record{}, 0, errShortRecord
	}
	r.pos++ // attributes, unused
	tsDelta := r.varlong()
	offDelta := r.varlong()
	rec := Record{Offset: h.BaseOffset + offDelta, Timestamp: h.BaseTimestamp + tsDelta}
	rec.Key = r.bytes()
	rec.Value = r.bytes()
	nh := r.varlong()
	if r.err == nil && (nh < 0 || nh > int64(end)) {
		return Record{}, 0, fmt.Errorf("header count %d", nh)
	}
	for i := int64(0); i < nh && r.err == nil; i++ {
		k := r.bytes()
		v := r.bytes()
		rec.Headers = append(rec.Headers, Header{Key: string(k), Value: v})
	}
	if r.err != nil {
		return Record{}, 0, r.err
	}
	if r.pos != end {
		return Record{}, 0, fmt.Errorf("record has %d trailing bytes", end-r.pos)
	}
	return rec, end, nil
}

// xerialMagic starts snappy data framed the way the Java client's xerial library writes it.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

var (
	zstdOnce    sync.Once
	zstdDecoder *zstd.Decoder
)

// maxDecompressed bounds a decompressed batch so a hostile batch cannot exhaust memory.
const maxDecompressed = 256 << 20

func decompress(codec int, b []byte) ([]byte, error) {
	switch codec {
	case 1:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return readAllLimited(zr)
	case 2:
		if bytes.HasPrefix(b, xerialMagic) {
			return unxerial(b[len(xerialMagic)+8:])
		}
		return snappyBlock(b)
	case 3:
		return readAllLimited(lz4.NewReader(bytes.NewReader(b)))
	case 4:
		zstdOnce.Do(func() {
			zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxDecompressed))
		})
		return zstdDecoder.DecodeAll(b, nil)
	}
	return nil, fmt.Errorf("unknown codec %d", codec)
}

func snappyBlock(b []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(b)
	if err != nil {
		return nil, err
	}
	if n > maxDecompressed {
		return nil, fmt.Errorf("decompressed size %d too large", n)
	}
	return snappy.Decode(nil, b)
}

// unxerial decodes xerial's chunks: int32 length then a snappy block, repeated.
func unxerial(b []byte) ([]byte, error) {
	var out []byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errShortRecord
		}
		n := int(binary.BigEndian.Uint32(b))
		b = b[4:]
		if n < 0 || n > len(b) {
			return nil, errShortRecord
		}
		chunk, err := snappyBlock(b[:n])
		if err != nil {
			return nil, err
		}
		if len(out)+len(chunk) > maxDecompressed {
			return nil, errors.New("decompressed size too large")
		}
		out = append(out, chunk...)
		b = b[n:]
	}
	return out, nil
}

func readAllLimited(r io.Reader) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxDecompressed {
		return nil, errors.New("decompressed size too large")
	}
	return out, nil
}
