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
	p := batchHeaderSize
	for i := int32(0); i < h.NumRecords; i++ {
		next, tsDelta, ok := walkRecordFast(b, p)
		if !ok { // something is wrong: the field-by-field walk says what
			var err error
			if next, tsDelta, err = walkRecord(b, p, i); err != nil {
				return err
			}
		}
		p = next
		if checkTs {
			if ts := h.BaseTimestamp + tsDelta; ts != noTimestamp && (ts < lo || ts > hi) {
				return fmt.Errorf("record %d: %w", i, timestampError(ts, lo, hi))
			}
		}
	}
	if p != len(b) {
		return fmt.Errorf("%w: %d bytes after the %d records the batch declares", ErrInvalidRecord, len(b)-p, h.NumRecords)
	}
	return nil
}

// walkRecordFast is walkRecord for a well-formed record, fast: its reads of one- and two-byte
// varints — almost every one: a 100-byte value's length takes two, and so do timestamp deltas up
// to 8 s — are inlined and keep the position in a register (each field's position depends on
// the previous field's, so that chain is the cost of the walk); a longer varint takes a call. It
// reports ok only for a record walkRecord accepts, with the same next and tsDelta; anything
// wrong, it leaves to walkRecord to say what. A failed read sets p to -1, which later reads pass
// on, so a run of reads is checked once at its end.
func walkRecordFast(b []byte, p int) (next int, tsDelta int64, ok bool) {
	x, q := shortVarint(b, p)
	if q < 0 {
		x, q = uvarintAt(b, p, 5)
	}
	p = q
	length := zigzag32(x)
	if p < 0 || length < 1 || int(length) > len(b)-p {
		return 0, 0, false
	}
	r := b[:p+int(length)]
	p++ // attributes
	if x, q = shortVarint(r, p); q < 0 {
		x, q = uvarintAt(r, p, 10)
	}
	p, tsDelta = q, int64(x>>1)^-int64(x&1)
	if _, q = shortVarint(r, p); q < 0 { // offset delta
		_, q = uvarintAt(r, p, 5)
	}
	p = q
	if x, q = shortVarint(r, p); q < 0 { // key; a negative length is null
		x, q = uvarintAt(r, p, 5)
	}
	p = skipField(r, q, zigzag32(x))
	if x, q = shortVarint(r, p); q < 0 { // value
		x, q = uvarintAt(r, p, 5)
	}
	p = skipField(r, q, zigzag32(x))
	if x, q = shortVarint(r, p); q < 0 {
		x, q = uvarintAt(r, p, 5)
	}
	p = q
	headers := zigzag32(x)
	for j := int32(0); j < headers && p >= 0; j++ {
		if x, q = shortVarint(r, p); q < 0 { // header key, never null
			x, q = uvarintAt(r, p, 5)
		}
		if zigzag32(x) < 0 {
			return 0, 0, false
		}
		p = skipField(r, q, zigzag32(x))
		if x, q = shortVarint(r, p); q < 0 { // header value
			x, q = uvarintAt(r, p, 5)
		}
		p = skipField(r, q, zigzag32(x))
	}
	if headers < 0 || p != len(r) {
		return 0, 0, false
	}
	return p, tsDelta, true
}

// shortVarint reads a one- or two-byte unsigned varint at p, or returns p = -1 (for any other
// length too, and for p = -1).
func shortVarint(b []byte, p int) (uint64, int) {
	if uint(p) < uint(len(b)) {
		b0 := b[p]
		if b0 < 0x80 {
			return uint64(b0), p + 1
		}
		if uint(p+1) < uint(len(b)) {
			if b1 := b[p+1]; b1 < 0x80 {
				return uint64(b0&0x7f) | uint64(b1)<<7, p + 2
			}
		}
	}
	return 0, -1
}

// skipField passes over a field of n bytes (n <= 0: a null or empty field); p = -1 if p already
// is or the field runs past b.
func skipField(b []byte, p int, n int32) int {
	if n <= 0 || p < 0 {
		return p
	}
	if int(n) > len(b)-p {
		return -1
	}
	return p + int(n)
}

// walkRecord checks the record at p (b ends where the batch does) field by field with varints
// of any length, and returns the position after it and its timestamp delta, or what is wrong.
func walkRecord(b []byte, p int, i int32) (next int, tsDelta int64, err error) {
	var x uint64
	x, p = uvarintAt(b, p, 5)
	length := zigzag32(x)
	if p < 0 || length < 1 || int64(length) > int64(len(b)-p) {
		return 0, 0, fmt.Errorf("%w: record %d: invalid record size %d with %d bytes left in the batch", ErrInvalidRecord, i, length, len(b)-max(p, 0))
	}
	recEnd := p + int(length)
	r := b[:recEnd] // no field may read past the record
	p++             // attributes (unused in magic 2); length >= 1 keeps p <= recEnd
	var ts, key, value, headers uint64
	ts, p = uvarintAt(r, p, 10)
	_, p = uvarintAt(r, p, 5) // offset delta
	key, p = uvarintAt(r, p, 5)
	p = skipField(r, p, zigzag32(key)) // negative = null
	value, p = uvarintAt(r, p, 5)
	p = skipField(r, p, zigzag32(value))
	headers, p = uvarintAt(r, p, 5)
	if p < 0 || zigzag32(headers) < 0 {
		return 0, 0, fmt.Errorf("%w: record %d: malformed key, value or header count", ErrInvalidRecord, i)
	}
	for j := int32(0); j < zigzag32(headers) && p >= 0; j++ { // each header takes >= 2 bytes: ends by recEnd
		var hk, hv uint64
		hk, p = uvarintAt(r, p, 5)
		if p >= 0 && zigzag32(hk) < 0 {
			return 0, 0, fmt.Errorf("%w: record %d: header %d: invalid negative header key size %d", ErrInvalidRecord, i, j, zigzag32(hk))
		}
		p = skipField(r, p, zigzag32(hk))
		hv, p = uvarintAt(r, p, 5)
		p = skipField(r, p, zigzag32(hv)) // header value; negative = null
	}
	if p != recEnd {
		return 0, 0, fmt.Errorf("%w: record %d: its fields do not take exactly its declared size %d", ErrInvalidRecord, i, length)
	}
	return p, int64(ts>>1) ^ -int64(ts&1), nil
}

// uvarintAt reads an unsigned varint of at most maxLen bytes from b at p and returns it with the
// position after it, or p = -1 if p is already -1, the varint runs past b or is longer than
// maxLen (5 is Kafka's ByteUtils.readVarint, whose value must fit in 32 bits, 10 its readVarlong).
func uvarintAt(b []byte, p, maxLen int) (uint64, int) {
	if p < 0 {
		return 0, -1
	}
	var x uint64
	for i, shift := 0, uint(0); i < maxLen; i, shift = i+1, shift+7 {
		if p+i >= len(b) {
			return 0, -1
		}
		c := b[p+i]
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			if i == 9 && c > 1 || maxLen == 5 && i == 4 && c > 0x0f { // only the top bits are left
				return 0, -1
			}
			return x, p + i + 1
		}
	}
	return 0, -1
}

// zigzag32 decodes a zig-zag varint's value as an int32 (uvarintAt(b, p, 5) refuses wider ones).
func zigzag32(x uint64) int32 { return int32(uint32(x)>>1) ^ -int32(x&1) }
