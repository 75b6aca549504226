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

// validateOne checks one batch that starts at b[0]; b may hold more batches after it.
func validateOne(b []byte, maxBatchBytes int32) (BatchHeader, error) {
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
	if h.NumRecords <= 0 {
		return h, fmt.Errorf("%w: record count %d", ErrInvalidRecord, h.NumRecords)
	}
	if h.LastOffsetDelta < 0 || int64(h.LastOffsetDelta)+1 != int64(h.NumRecords) {
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
	if len(records) == 0 {
		return nil, &BatchError{Index: 0, Err: fmt.Errorf("%w: empty record set", ErrInvalidRecord)}
	}
	headers := make([]BatchHeader, 0, 1)
	for pos, i := 0, 0; pos < len(records); i++ {
		h, err := validateOne(records[pos:], maxBatchBytes)
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
