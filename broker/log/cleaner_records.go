package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// What the cleaner needs of records: parse them without allocating (a record's key and the bytes
// after its offset delta are sub-slices of the decompressed batch), and write a batch back with
// a subset of them — same base offset, offset range, producer fields, leader epoch and codec, as
// Kafka's MemoryRecords.filterTo rebuilds a batch.

// attrDeleteHorizon marks a batch whose base timestamp is the time after which its tombstones
// may be removed (KIP-534): set by the cleaner the first time it keeps a tombstone.
const attrDeleteHorizon = 0x40

// DeleteHorizon returns the batch's delete horizon (ms) if the cleaner has set one.
func (h BatchHeader) DeleteHorizon() (int64, bool) {
	if h.Attributes&attrDeleteHorizon == 0 {
		return 0, false
	}
	return h.BaseTimestamp, true
}

// rawRecord is one record as stored: the fields the cleaner decides on, and the encoded tail
// (key through headers) that is copied as-is into a rebuilt batch.
type rawRecord struct {
	attrs     byte
	timestamp int64 // absolute: the batch's base timestamp plus the record's delta
	offset    int64 // absolute
	key       []byte
	tombstone bool   // null value
	tail      []byte // key length through the last header, as encoded
}

// parseRawRecord reads the record at the start of b, with the batch's base offset and timestamp.
func parseRawRecord(b []byte, baseOffset, baseTs int64) (rawRecord, int, error) {
	length, n := binary.Varint(b)
	if n <= 0 || length < 0 || int64(len(b)-n) < length {
		return rawRecord{}, 0, errShortRecord
	}
	end := n + int(length)
	r := &varReader{b: b[:end], pos: n}
	if r.pos >= end {
		return rawRecord{}, 0, errShortRecord
	}
	rec := rawRecord{attrs: b[r.pos]}
	r.pos++
	rec.timestamp = baseTs + r.varlong()
	rec.offset = baseOffset + r.varlong()
	tailStart := r.pos
	rec.key = r.bytes()
	vlen := r.varlong()
	if r.err == nil {
		rec.tombstone = vlen < 0
		if vlen > 0 {
			if int64(end-r.pos) < vlen {
				return rawRecord{}, 0, errShortRecord
			}
			r.pos += int(vlen)
		}
	}
	nh := r.varlong()
	if r.err == nil && (nh < 0 || nh > int64(end)) {
		return rawRecord{}, 0, fmt.Errorf("header count %d", nh)
	}
	for i := int64(0); i < nh && r.err == nil; i++ {
		r.bytes()
		r.bytes()
	}
	if r.err != nil {
		return rawRecord{}, 0, r.err
	}
	if r.pos != end {
		return rawRecord{}, 0, fmt.Errorf("record has %d trailing bytes", end-r.pos)
	}
	rec.tail = b[tailStart:end]
	return rec, end, nil
}

// recordCodec holds one cleaner goroutine's reusable compression state and buffers.
type recordCodec struct {
	plain  []byte // decompressed body of the batch being read
	body   []byte // uncompressed body of the batch being written
	packed bytes.Buffer
	gzr    *kgzip.Reader
	gzw    *kgzip.Writer
	lz4r   *lz4.Reader
	lz4w   *lz4.Writer
	zstdw  *zstd.Encoder
	zbuf   []byte
}

// records decodes the records of a (validated) batch into out, reusing the codec's buffers: the
// returned records point into them until the next call.
func (c *recordCodec) records(batch []byte, h BatchHeader, out []rawRecord) ([]rawRecord, error) {
	body := batch[batchHeaderSize:h.Size()]
	if codec := h.Compression(); codec != 0 {
		var err error
		if body, err = c.decompress(codec, body); err != nil {
			return out, fmt.Errorf("%w: %s: %v", ErrCorruptMessage, CodecName(codec), err)
		}
	}
	out = out[:0]
	for i := int32(0); i < h.NumRecords; i++ {
		r, n, err := parseRawRecord(body, h.BaseOffset, h.BaseTimestamp)
		if err != nil {
			return out, fmt.Errorf("%w: record %d of batch at %d: %v", ErrCorruptMessage, i, h.BaseOffset, err)
		}
		if r.offset < h.BaseOffset || r.offset > h.LastOffset() {
			return out, fmt.Errorf("%w: record offset %d outside its batch %d..%d", ErrCorruptMessage, r.offset, h.BaseOffset, h.LastOffset())
		}
		out = append(out, r)
		body = body[n:]
	}
	if len(body) > 0 {
		// Kafka's batch iterator refuses bytes after the declared records, and so does
		// DecodeRecords: the cleaner must not keep a batch the rest of the broker calls corrupt.
		return out, fmt.Errorf("%w: %d bytes after the %d declared records of batch at %d", ErrCorruptMessage, len(body), h.NumRecords, h.BaseOffset)
	}
	return out, nil
}

func (c *recordCodec) decompress(codec int, b []byte) ([]byte, error) {
	var err error
	switch codec {
	case 1:
		if c.gzr == nil {
			c.gzr, err = kgzip.NewReader(bytes.NewReader(b))
		} else {
			err = c.gzr.Reset(bytes.NewReader(b))
		}
		if err != nil {
			return nil, err
		}
		return c.readAll(c.gzr)
	case 2:
		if bytes.HasPrefix(b, xerialMagic) {
			return c.unxerial(b[len(xerialMagic)+8:])
		}
		n, err := snappy.DecodedLen(b)
		if err != nil {
			return nil, err
		}
		if n > maxDecompressed {
			return nil, fmt.Errorf("decompressed size %d too large", n)
		}
		c.plain, err = snappy.Decode(c.plain[:cap(c.plain)], b)
		return c.plain, err
	case 3:
		if c.lz4r == nil {
			c.lz4r = lz4.NewReader(bytes.NewReader(b))
		} else {
			c.lz4r.Reset(bytes.NewReader(b))
		}
		return c.readAll(c.lz4r)
	case 4:
		zstdOnce.Do(func() {
			zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxDecompressed))
		})
		c.plain, err = zstdDecoder.DecodeAll(b, c.plain[:0])
		return c.plain, err
	}
	return nil, fmt.Errorf("unknown codec %d", codec)
}

// readAll reads r into the reusable plain buffer, bounded by maxDecompressed.
func (c *recordCodec) readAll(r io.Reader) ([]byte, error) {
	buf := c.plain[:0]
	for {
		if len(buf) == cap(buf) {
			if len(buf) > maxDecompressed {
				return nil, errors.New("decompressed size too large")
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			c.plain = buf
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (c *recordCodec) unxerial(b []byte) ([]byte, error) {
	out := c.plain[:0]
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errShortRecord
		}
		n := int(binary.BigEndian.Uint32(b))
		b = b[4:]
		if n < 0 || n > len(b) {
			return nil, errShortRecord
		}
		dl, err := snappy.DecodedLen(b[:n])
		if err != nil {
			return nil, err
		}
		if len(out)+dl > maxDecompressed {
			return nil, errors.New("decompressed size too large")
		}
		out = slices.Grow(out, dl)[:len(out)+dl]
		if _, err := snappy.Decode(out[len(out)-dl:], b[:n]); err != nil {
			return nil, err
		}
		b = b[n:]
	}
	c.plain = out
	return out, nil
}

// xerialBlock is the chunk size of the xerial snappy framing Kafka's broker writes (the Java
// client's SnappyOutputStream default).
const xerialBlock = 32 << 10

// compress packs body with codec into the codec's packed buffer.
func (c *recordCodec) compress(codec int, body []byte) ([]byte, error) {
	c.packed.Reset()
	switch codec {
	case 1:
		if c.gzw == nil {
			c.gzw = kgzip.NewWriter(&c.packed)
		} else {
			c.gzw.Reset(&c.packed)
		}
		if _, err := c.gzw.Write(body); err != nil {
			return nil, err
		}
		if err := c.gzw.Close(); err != nil {
			return nil, err
		}
	case 2:
		// Kafka's broker re-compresses snappy in xerial framing (magic, version 1, compatible
		// version 1, then length-prefixed blocks), which every client reads.
		c.packed.Write(xerialMagic)
		var v [8]byte
		binary.BigEndian.PutUint32(v[0:], 1)
		binary.BigEndian.PutUint32(v[4:], 1)
		c.packed.Write(v[:])
		for len(body) > 0 {
			n := min(len(body), xerialBlock)
			enc := snappy.Encode(nil, body[:n])
			var l [4]byte
			binary.BigEndian.PutUint32(l[:], uint32(len(enc)))
			c.packed.Write(l[:])
			c.packed.Write(enc)
			body = body[n:]
		}
	case 3:
		if c.lz4w == nil {
			c.lz4w = lz4.NewWriter(&c.packed)
			if err := c.lz4w.Apply(lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
				return nil, err
			}
		} else {
			c.lz4w.Reset(&c.packed)
		}
		if _, err := c.lz4w.Write(body); err != nil {
			return nil, err
		}
		if err := c.lz4w.Close(); err != nil {
			return nil, err
		}
	case 4:
		if c.zstdw == nil {
			var err error
			if c.zstdw, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1)); err != nil {
				return nil, err
			}
		}
		c.zbuf = c.zstdw.EncodeAll(body, c.zbuf[:0])
		return c.zbuf, nil
	default:
		return nil, fmt.Errorf("unknown codec %d", codec)
	}
	return c.packed.Bytes(), nil
}

// buildBatch appends to out a batch holding recs (a subset of the records of the batch h heads,
// in order), as Kafka's cleaner rebuilds one: the base offset, last offset delta (so the
// producer's last sequence survives), leader epoch, producer id/epoch/base sequence, codec,
// timestamp type and transactional/control bits are kept; each record keeps its offset,
// timestamp, key, value and headers. The base timestamp is the first record's, or the delete
// horizon when one is set; the max timestamp is the largest kept (LogAppendTime batches keep
// theirs).
func (c *recordCodec) buildBatch(out []byte, h BatchHeader, recs []rawRecord, horizon int64, hasHorizon bool) ([]byte, BatchHeader, error) {
	base := recs[0].timestamp
	if hasHorizon {
		base = horizon
	}
	maxTs := h.MaxTimestamp
	if h.Attributes&attrTimestampType == 0 {
		maxTs = recs[0].timestamp
		for _, r := range recs[1:] {
			maxTs = max(maxTs, r.timestamp)
		}
	}
	body := c.body[:0]
	for _, r := range recs {
		var pre [1 + 2*binary.MaxVarintLen64]byte
		pre[0] = r.attrs
		n := 1 + binary.PutVarint(pre[1:], r.timestamp-base)
		n += binary.PutVarint(pre[n:], r.offset-h.BaseOffset)
		body = binary.AppendVarint(body, int64(n+len(r.tail)))
		body = append(body, pre[:n]...)
		body = append(body, r.tail...)
	}
	c.body = body
	if codec := h.Compression(); codec != 0 {
		var err error
		if body, err = c.compress(codec, body); err != nil {
			return out, h, fmt.Errorf("re-compress %s batch at %d: %w", CodecName(codec), h.BaseOffset, err)
		}
	}
	attrs := h.Attributes & (attrCompressionMask | attrTimestampType | attrTransactional | attrControl)
	if hasHorizon {
		attrs |= attrDeleteHorizon
	}
	nh := h
	nh.Attributes, nh.BaseTimestamp, nh.MaxTimestamp, nh.NumRecords = attrs, base, maxTs, int32(len(recs))
	out = appendBatch(out, &nh, body)
	return out, nh, nil
}

// emptyBatch appends the header-only batch Kafka keeps in place of a batch whose records were all
// removed when it is its producer's last: offsets, producer fields and max timestamp survive, the
// base timestamp is -1 (no records) and the codec none.
func emptyBatch(out []byte, h BatchHeader) ([]byte, BatchHeader) {
	nh := h
	nh.Attributes = h.Attributes & (attrTimestampType | attrTransactional | attrControl)
	nh.BaseTimestamp, nh.NumRecords = -1, 0
	out = appendBatch(out, &nh, nil)
	return out, nh
}

// appendBatch encodes header h and body; it sets h's BatchLength and CRC to what it wrote.
func appendBatch(out []byte, h *BatchHeader, body []byte) []byte {
	start := len(out)
	h.BatchLength = int32(batchHeaderSize - logOverhead + len(body))
	out = binary.BigEndian.AppendUint64(out, uint64(h.BaseOffset))
	out = binary.BigEndian.AppendUint32(out, uint32(h.BatchLength))
	out = binary.BigEndian.AppendUint32(out, uint32(h.PartitionLeaderEpoch))
	out = append(out, 2)
	out = append(out, 0, 0, 0, 0) // CRC, below
	out = binary.BigEndian.AppendUint16(out, uint16(h.Attributes))
	out = binary.BigEndian.AppendUint32(out, uint32(h.LastOffsetDelta))
	out = binary.BigEndian.AppendUint64(out, uint64(h.BaseTimestamp))
	out = binary.BigEndian.AppendUint64(out, uint64(h.MaxTimestamp))
	out = binary.BigEndian.AppendUint64(out, uint64(h.ProducerID))
	out = binary.BigEndian.AppendUint16(out, uint16(h.ProducerEpoch))
	out = binary.BigEndian.AppendUint32(out, uint32(h.BaseSequence))
	out = binary.BigEndian.AppendUint32(out, uint32(h.NumRecords))
	out = append(out, body...)
	h.CRC = crc32.Checksum(out[start+offAttributes:], castagnoli)
	binary.BigEndian.PutUint32(out[start+offCRC:], h.CRC)
	return out
}
