package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Record batch (magic 2) layout, as Kafka's DefaultRecordBatch defines it. The CRC covers
// attributes through the end of the batch, so the base offset and the partition leader epoch
// can be rewritten by the broker without recomputing it.
const (
	offBaseOffset      = 0
	offBatchLength     = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57
	batchHeaderSize    = 61

	// logOverhead is the base offset and length fields that precede what batchLength counts.
	logOverhead = 12

	attrCompressionMask = 0x07
	attrTimestampType   = 0x08 // 1 = LogAppendTime
	attrTransactional   = 0x10
	attrControl         = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the fixed 61-byte header of a magic-2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	BatchLength          int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Size is the batch's size on disk: the 12-byte log overhead plus batchLength.
func (h BatchHeader) Size() int { return logOverhead + int(h.BatchLength) }

// LastOffset is the offset of the batch's last record.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Compression is the codec id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
func (h BatchHeader) Compression() int { return int(h.Attributes & attrCompressionMask) }

// IsTransactional reports the transactional attribute bit.
func (h BatchHeader) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// IsControl reports the control-batch attribute bit.
func (h BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// LastSequence is the sequence number of the batch's last record, wrapping as Kafka does.
func (h BatchHeader) LastSequence() int32 {
	if h.BaseSequence < 0 {
		return -1
	}
	s := int64(h.BaseSequence) + int64(h.LastOffsetDelta)
	if s > 1<<31-1 {
		s -= 1 << 31
	}
	return int32(s)
}

// ParseBatchHeader decodes the header at the start of b. It checks only what it needs to read the
// header (length and magic); ValidateBatches checks the rest.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	var h BatchHeader
	if len(b) < offMagic+1 {
		return h, fmt.Errorf("%w: %d bytes, too short for a batch header", ErrCorruptMessage, len(b))
	}
	h.Magic = int8(b[offMagic])
	if h.Magic < 2 {
		return h, fmt.Errorf("%w: magic %d", ErrUnsupportedForMessageFormat, h.Magic)
	}
	if h.Magic > 2 {
		return h, fmt.Errorf("%w: unknown magic %d", ErrCorruptMessage, h.Magic)
	}
	if len(b) < batchHeaderSize {
		return h, fmt.Errorf("%w: %d bytes, too short for a batch header", ErrCorruptMessage, len(b))
	}
	h.BaseOffset = int64(binary.BigEndian.Uint64(b[offBaseOffset:]))
	h.BatchLength = int32(binary.BigEndian.Uint32(b[offBatchLength:]))
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[offLeaderEpoch:]))
	h.CRC = binary.BigEndian.Uint32(b[offCRC:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[offAttributes:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:]))
	h.BaseTimestamp = int64(binary.BigEndian.Uint64(b[offBaseTimestamp:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[offMaxTimestamp:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[offProducerID:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[offProducerEpoch:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[offBaseSequence:]))
	h.NumRecords = int32(binary.BigEndian.Uint32(b[offNumRecords:]))
	if h.BatchLength < batchHeaderSize-logOverhead {
		return h, fmt.Errorf("%w: batch length %d below the header size", ErrCorruptMessage, h.BatchLength)
	}
	return h, nil
}

// validateOne checks one batch that starts at b[0]; b may hold more batches after it. produced
// selects the rule for a producer's batch (Kafka's LogValidator: its record count equals its
// offset range); a stored batch may have been compacted, keeping its offset range (and so its
// producer's last sequence) with fewer records than that, or none at all (Kafka's cleaner keeps
// an empty batch as the last of an active producer).
func validateOne(b []byte, maxBatchBytes int32, produced bool) (BatchHeader, error) {
	if len(b) < logOverhead {
		return BatchHeader{}, fmt.Errorf("%w: %d trailing bytes", ErrCorruptMessage, len(b))
	}
	length := int32(binary.BigEndian.Uint32(b[offBatchLength:]))
	if length < batchHeaderSize-logOverhead {
		return BatchHeader{}, fmt.Errorf("%w: batch length %d below the header size", ErrCorruptMessage, length)
	}
	size := int64(logOverhead) + int64(length)
	if size > int64(len(b)) {
		return BatchHeader{}, fmt.Errorf("%w: batch of %d bytes but only %d present", ErrCorruptMessage, size, len(b))
	}
	h, err := ParseBatchHeader(b[:size])
	if err != nil {
		return h, err
	}
	if maxBatchBytes > 0 && size > int64(maxBatchBytes) {
		return h, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, size, maxBatchBytes)
	}
	if crc := crc32.Checksum(b[offAttributes:size], castagnoli); crc != h.CRC {
		return h, fmt.Errorf("%w: crc %08x, computed %08x", ErrCorruptMessage, h.CRC, crc)
	}
	if produced && h.NumRecords <= 0 || h.NumRecords < 0 {
		return h, fmt.Errorf("%w: record count %d", ErrInvalidRecord, h.NumRecords)
	}
	if h.LastOffsetDelta < 0 || produced && int64(h.LastOffsetDelta)+1 != int64(h.NumRecords) ||
		int64(h.LastOffsetDelta)+1 < int64(h.NumRecords) {
		return h, fmt.Errorf("%w: last offset delta %d inconsistent with %d records", ErrInvalidRecord, h.LastOffsetDelta, h.NumRecords)
	}
	if h.Compression() > 4 {
		return h, fmt.Errorf("%w: unknown compression codec %d", ErrCorruptMessage, h.Compression())
	}
	return h, nil
}

// ValidateBatches checks every batch of a produce request's record set without decompressing
// anything: framing, magic, CRC-32C, record count and offset range, and size against
// maxBatchBytes (<= 0: no limit). It returns the parsed headers; a failure is a *BatchError naming
// the offending batch.
func ValidateBatches(records []byte, maxBatchBytes int32) ([]BatchHeader, error) {
	return validateSet(records, maxBatchBytes, true)
}

// ValidateStoredBatches checks batches read from a log (a fetch response, a follower's append):
// the same checks, except that a batch may be compacted — fewer records than its offset range,
// down to none (see validateOne).
func ValidateStoredBatches(records []byte) ([]BatchHeader, error) {
	return validateSet(records, 0, false)
}

func validateSet(records []byte, maxBatchBytes int32, produced bool) ([]BatchHeader, error) {
	return validateSetInto(make([]BatchHeader, 0, 1), records, maxBatchBytes, produced)
}

// validateSetInto is validateSet appending to headers (a caller's stack array: an append with
// one batch, as every v3+ produce has, allocates nothing).
func validateSetInto(headers []BatchHeader, records []byte, maxBatchBytes int32, produced bool) ([]BatchHeader, error) {
	if len(records) == 0 {
		return nil, &BatchError{Index: 0, Err: fmt.Errorf("%w: empty record set", ErrInvalidRecord)}
	}
	for pos, i := 0, 0; pos < len(records); i++ {
		h, err := validateOne(records[pos:], maxBatchBytes, produced)
		if err != nil {
			return nil, &BatchError{Index: i, Err: err}
		}
		headers = append(headers, h)
		pos += h.Size()
	}
	return headers, nil
}

// setBaseOffset and setLeaderEpoch rewrite the two fields the CRC does not cover.
func setBaseOffset(b []byte, off int64) { binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off)) }
func setLeaderEpoch(b []byte, e int32)  { binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(e)) }

// setLogAppendTime stamps a batch with the broker's time (message.timestamp.type=LogAppendTime):
// the timestamp-type attribute and max timestamp change, so the CRC is recomputed over the batch
// (a checksum pass, not per-record work).
func setLogAppendTime(b []byte, now int64) {
	attrs := binary.BigEndian.Uint16(b[offAttributes:]) | attrTimestampType
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(now))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
}

// Timestamp bounds that disable the message.timestamp.difference.max.ms check.
const (
	noTimestamp = -1 // Kafka's RecordBatch.NO_TIMESTAMP: exempt from the range check
	minTs       = -1 << 63
	maxTs       = 1<<63 - 1
)

// timestampBounds is the inclusive range [now-diff, now+diff] of accepted CreateTime timestamps,
// saturating instead of overflowing; diff <= 0 or math.MaxInt64 (Kafka's default) = no bound.
func timestampBounds(now, diff int64) (lo, hi int64) {
	if diff <= 0 || diff == maxTs {
		return minTs, maxTs
	}
	lo, hi = now-diff, now+diff
	if lo > now { // wrapped below the smallest int64
		lo = minTs
	}
	if hi < now {
		hi = maxTs
	}
	return lo, hi
}

// validateLeaderBatches applies, on the leader, the rules of Kafka's LogValidator that need more
// than ValidateBatches' header checks, batch by batch:
//   - a batch may not arrive with the LogAppendTime timestamp type set: only the broker stamps
//     that (INVALID_TIMESTAMP, "Producer should not set timestamp type to LogAppendTime");
//   - with CreateTime, every timestamp must lie within message.timestamp.difference.max.ms of
//     the broker's clock (INVALID_TIMESTAMP); -1 (no timestamp) is exempt, as in Kafka. For an
//     uncompressed batch every record's timestamp is checked; a compressed batch is not
//     decompressed (DESIGN.md decision 3), so its first and largest timestamps, both in the
//     header, stand for its records;
//   - the records inside an uncompressed batch are framed as declared (checkRecords).
//
// lo..hi is timestampBounds' range; with logAppendTime the range is not checked (the broker
// overwrites the timestamps), as in Kafka.
func validateLeaderBatches(records []byte, hdrs []BatchHeader, logAppendTime bool, lo, hi int64) error {
	if logAppendTime {
		lo, hi = minTs, maxTs
	}
	pos := 0
	for i := range hdrs {
		h := &hdrs[i]
		b := records[pos : pos+h.Size()]
		pos += h.Size()
		if h.Attributes&attrTimestampType != 0 {
			return &BatchError{Index: i, Err: fmt.Errorf("%w: producers may not set the LogAppendTime timestamp type", ErrInvalidTimestamp)}
		}
		if h.Compression() == 0 {
			if err := checkRecords(b, *h, lo, hi); err != nil {
				return &BatchError{Index: i, Err: err}
			}
			continue
		}
		for _, ts := range [2]int64{h.BaseTimestamp, h.MaxTimestamp} {
			if ts != noTimestamp && (ts < lo || ts > hi) {
				return &BatchError{Index: i, Err: timestampError(ts, lo, hi)}
			}
		}
	}
	return nil
}

func timestampError(ts, lo, hi int64) error {
	return fmt.Errorf("%w: timestamp %d is out of range; it should be within [%d, %d] (message.timestamp.difference.max.ms)", ErrInvalidTimestamp, ts, lo, hi)
}

// checkRecords walks the records of one uncompressed magic-2 batch (b is exactly the batch) in
// place, checking their framing the way Kafka's DefaultRecord.readFrom reads it: a varint body
// length that fits in the batch, the attributes byte, varint timestamp and offset deltas, key and
// value lengths (negative = null), a non-negative header count, headers with non-negative key
// lengths, every record's fields ending exactly at its declared length, exactly NumRecords
// records, and nothing after the last. Each record's timestamp (base + delta) must lie in lo..hi.
// It allocates nothing and reads each byte once: a walk of varints, no copy.
func checkRecords(b []byte, h BatchHeader, lo, hi int64) error {
	checkTs := lo != minTs || hi != maxTs
	c := varCursor{b: b, p: batchHeaderSize}
	for i := int32(0); i < h.NumRecords; i++ {
		c.b = b
		length := c.int32()
		if c.bad || length < 1 || int64(length) > int64(len(b)-c.p) {
			return fmt.Errorf("%w: record %d: invalid record size %d with %d bytes left in the batch", ErrInvalidRecord, i, length, len(b)-c.p)
		}
		recEnd := c.p + int(length)
		c.b = b[:recEnd] // no field may read past the record
		c.p++            // attributes (unused in magic 2); length >= 1 keeps p <= recEnd
		tsDelta := c.int64()
		c.int32()         // offset delta
		c.skip(c.int32()) // key; negative = null
		c.skip(c.int32()) // value
		headers := c.int32()
		if c.bad || headers < 0 {
			return fmt.Errorf("%w: record %d: malformed key, value or header count", ErrInvalidRecord, i)
		}
		for j := int32(0); j < headers && !c.bad; j++ { // each header takes >= 2 bytes: ends by recEnd
			key := c.int32()
			if key < 0 {
				return fmt.Errorf("%w: record %d: header %d: invalid negative header key size %d", ErrInvalidRecord, i, j, key)
			}
			c.skip(key)
			c.skip(c.int32()) // header value; negative = null
		}
		if c.bad || c.p != recEnd {
			return fmt.Errorf("%w: record %d: its fields do not take exactly its declared size %d", ErrInvalidRecord, i, length)
		}
		if checkTs {
			if ts := h.BaseTimestamp + tsDelta; ts != noTimestamp && (ts < lo || ts > hi) {
				return fmt.Errorf("record %d: %w", i, timestampError(ts, lo, hi))
			}
		}
	}
	if c.p != len(b) {
		return fmt.Errorf("%w: %d bytes after the %d records the batch declares", ErrInvalidRecord, len(b)-c.p, h.NumRecords)
	}
	return nil
}

// varCursor reads Kafka's zig-zag varints from b without allocating. A varint that runs past b,
// or is longer than its type allows, or a skip past b, sets bad; later reads return 0. The
// one- and two-byte cases — almost every length and delta — are small enough to be inlined
// (a varint in the last byte of b takes the long way, which reads it the same).
type varCursor struct {
	b   []byte
	p   int
	bad bool
}

// int32 reads a varint of at most 5 bytes that fits in 32 bits (Kafka's ByteUtils.readVarint).
func (c *varCursor) int32() int32 {
	if p := c.p; p+1 < len(c.b) {
		if b0 := c.b[p]; b0 < 0x80 {
			x := int32(b0)
			c.p = p + 1
			return x>>1 ^ -(x & 1)
		} else if b1 := c.b[p+1]; b1 < 0x80 { // two bytes: a 100-byte value's length
			x := int32(b0&0x7f) | int32(b1)<<7
			c.p = p + 2
			return x>>1 ^ -(x & 1)
		}
	}
	return c.int32Long()
}

//go:noinline
func (c *varCursor) int32Long() int32 {
	v, next, ok := readVarint32(c.b, c.p)
	if !ok {
		c.bad = true
		return 0
	}
	c.p = next
	return v
}

// int64 reads a varint of at most 10 bytes (Kafka's ByteUtils.readVarlong).
func (c *varCursor) int64() int64 {
	if p := c.p; p+1 < len(c.b) {
		if b0 := c.b[p]; b0 < 0x80 {
			x := int64(b0)
			c.p = p + 1
			return x>>1 ^ -(x & 1)
		} else if b1 := c.b[p+1]; b1 < 0x80 {
			x := int64(b0&0x7f) | int64(b1)<<7
			c.p = p + 2
			return x>>1 ^ -(x & 1)
		}
	}
	return c.int64Long()
}

//go:noinline
func (c *varCursor) int64Long() int64 {
	if c.bad {
		return 0
	}
	v, n := binary.Varint(c.b[c.p:])
	if n <= 0 {
		c.bad = true
		return 0
	}
	c.p += n
	return v
}

// skip passes over n bytes (n <= 0: nothing, a null field).
func (c *varCursor) skip(n int32) {
	if n <= 0 {
		return
	}
	if int64(n) > int64(len(c.b)-c.p) {
		c.bad = true
		return
	}
	c.p += int(n)
}

// readVarint32 reads a zig-zag varint of at most 5 bytes that fits in 32 bits (Kafka's
// ByteUtils.readVarint) from b at pos; ok is false if b ends first or the varint is too long.
func readVarint32(b []byte, pos int) (v int32, next int, ok bool) {
	var x uint32
	for shift := uint(0); shift < 35; shift += 7 {
		if pos >= len(b) {
			return 0, pos, false
		}
		c := b[pos]
		pos++
		if shift == 28 && c > 0x0f { // a fifth byte may hold only the top 4 bits, no continuation
			return 0, pos, false
		}
		x |= uint32(c&0x7f) << shift
		if c < 0x80 {
			return int32(x>>1) ^ -int32(x&1), pos, true
		}
	}
	return 0, pos, false
}
