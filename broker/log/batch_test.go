package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestValidateBatches(t *testing.T) {
	good := simpleBatch(t, 3, 10, 1000)
	two := append(append([]byte(nil), good...), simpleBatch(t, 1, 5, 2000)...)
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	recrc := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
		return b
	}
	cases := []struct {
		name    string
		records []byte
		max     int32
		want    error
		index   int
	}{
		{"valid", good, 0, nil, 0},
		{"two batches", two, 0, nil, 0},
		{"empty set", nil, 0, ErrInvalidRecord, 0},
		{"short header", good[:40], 0, ErrCorruptMessage, 0},
		{"length beyond data", good[:len(good)-1], 0, ErrCorruptMessage, 0},
		{"length below header", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[offBatchLength:], 10); return b }), 0, ErrCorruptMessage, 0},
		{"wrong crc", mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), 0, ErrCorruptMessage, 0},
		{"magic 1", mutate(func(b []byte) []byte { b[offMagic] = 1; return b }), 0, ErrUnsupportedForMessageFormat, 0},
		{"magic 0", mutate(func(b []byte) []byte { b[offMagic] = 0; return b }), 0, ErrUnsupportedForMessageFormat, 0},
		{"magic 3", mutate(func(b []byte) []byte { b[offMagic] = 3; return b }), 0, ErrCorruptMessage, 0},
		{"zero records", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[offNumRecords:], 0); return recrc(b) }), 0, ErrInvalidRecord, 0},
		{"last offset delta inconsistent", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 7); return recrc(b) }), 0, ErrInvalidRecord, 0},
		{"unknown codec", mutate(func(b []byte) []byte { b[offAttributes+1] |= 7; return recrc(b) }), 0, ErrCorruptMessage, 0},
		{"too large", good, int32(len(good) - 1), ErrMessageTooLarge, 0},
		{"second batch corrupt", append(append([]byte(nil), good...), mutate(func(b []byte) []byte { b[70] ^= 0xff; return b })...), 0, ErrCorruptMessage, 1},
		{"trailing garbage", append(append([]byte(nil), good...), 1, 2, 3), 0, ErrCorruptMessage, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs, err := ValidateBatches(tc.records, tc.max)
			checkValidation(t, hs, err, tc.want, tc.index)
		})
	}
}

// TestValidateStoredBatches: batches read from a log may be compacted — an offset range wider
// than their record count, or no records at all — and are accepted; a produce request's are not.
func TestValidateStoredBatches(t *testing.T) {
	good := simpleBatch(t, 3, 10, 1000)
	mutate := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
		return b
	}
	for _, tc := range []struct {
		name              string
		records           []byte
		produced, fetched error
	}{
		{"whole batch", good, nil, nil},
		{"compacted: 3 records over 8 offsets", mutate(func(b []byte) { binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 7) }), ErrInvalidRecord, nil},
		{"empty batch kept for its producer", mutate(func(b []byte) { binary.BigEndian.PutUint32(b[offNumRecords:], 0) }), ErrInvalidRecord, nil},
		{"more records than offsets", mutate(func(b []byte) { binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 1) }), ErrInvalidRecord, ErrInvalidRecord},
		{"negative count", mutate(func(b []byte) { binary.BigEndian.PutUint32(b[offNumRecords:], 0xffffffff) }), ErrInvalidRecord, ErrInvalidRecord},
		{"negative offset delta", mutate(func(b []byte) { binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 0xffffffff) }), ErrInvalidRecord, ErrInvalidRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, err := ValidateBatches(tc.records, 0)
			checkValidation(t, hs, err, tc.produced, 0)
			hs, err = ValidateStoredBatches(tc.records)
			checkValidation(t, hs, err, tc.fetched, 0)
		})
	}
}

func checkValidation(t *testing.T, hs []BatchHeader, err, want error, index int) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		if len(hs) == 0 {
			t.Fatal("no headers")
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	var be *BatchError
	if !errors.As(err, &be) || be.Index != index {
		t.Fatalf("error %v does not name batch %d", err, index)
	}
}

func TestBatchHeaderFields(t *testing.T) {
	b := buildBatch(t, []testRecord{{value: []byte("a"), ts: 100}, {value: []byte("b"), ts: 250}},
		batchOpts{pid: 42, epoch: 3, seq: 2147483647})
	h, err := ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.NumRecords != 2 || h.LastOffsetDelta != 1 || h.BaseTimestamp != 100 || h.MaxTimestamp != 250 ||
		h.ProducerID != 42 || h.ProducerEpoch != 3 || h.BaseSequence != 2147483647 || h.Size() != len(b) {
		t.Fatalf("header %+v", h)
	}
	if h.LastSequence() != 0 {
		t.Fatalf("last sequence %d, want 0 (wrapped)", h.LastSequence())
	}
}

func TestDecodeRecordsAllCodecs(t *testing.T) {
	recs := []testRecord{
		{key: []byte("k1"), value: []byte("v1"), ts: 1000},
		{key: nil, value: []byte("no key"), ts: 1001},
		{key: []byte("k3"), value: nil, ts: 1005},
	}
	recs[0].headers = append(recs[0].headers, kmsgHeader("h", "x"))
	for codec := 0; codec <= 4; codec++ {
		t.Run(CodecName(codec), func(t *testing.T) {
			b := buildBatch(t, recs, batchOpts{codec: codec})
			setBaseOffset(b, 500)
			h, got, err := DecodeRecords(b)
			if err != nil {
				t.Fatal(err)
			}
			if h.Compression() != codec || len(got) != len(recs) {
				t.Fatalf("codec %d, %d records", h.Compression(), len(got))
			}
			for i, r := range got {
				w := recs[i]
				if r.Offset != 500+int64(i) || r.Timestamp != w.ts || string(r.Key) != string(w.key) ||
					string(r.Value) != string(w.value) || (r.Key == nil) != (w.key == nil) || (r.Value == nil) != (w.value == nil) {
					t.Fatalf("record %d = %+v, want %+v", i, r, w)
				}
			}
			if len(got[0].Headers) != 1 || got[0].Headers[0].Key != "h" || string(got[0].Headers[0].Value) != "x" {
				t.Fatalf("headers %+v", got[0].Headers)
			}
		})
	}
}

func TestDecodeXerialSnappy(t *testing.T) {
	plain := buildBatch(t, []testRecord{{value: []byte("java"), ts: 5}}, batchOpts{})
	body := plain[batchHeaderSize:]
	block := snappyEncode(body)
	framed := append([]byte(nil), xerialMagic...)
	framed = binary.BigEndian.AppendUint32(framed, 1)
	framed = binary.BigEndian.AppendUint32(framed, 1)
	framed = binary.BigEndian.AppendUint32(framed, uint32(len(block)))
	framed = append(framed, block...)
	b := append(append([]byte(nil), plain[:batchHeaderSize]...), framed...)
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-logOverhead))
	b[offAttributes+1] = 2
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	_, recs, err := DecodeRecords(b)
	if err != nil || len(recs) != 1 || string(recs[0].Value) != "java" {
		t.Fatalf("xerial snappy: %v %+v", err, recs)
	}
}

// headerBytes re-encodes a parsed header with franz-go's encoder (independent of ours): for a
// correctly parsed header it is the input's first 61 bytes.
func headerBytes(h BatchHeader) []byte {
	kb := kmsg.RecordBatch{FirstOffset: h.BaseOffset, Length: h.BatchLength, PartitionLeaderEpoch: h.PartitionLeaderEpoch,
		Magic: h.Magic, CRC: int32(h.CRC), Attributes: h.Attributes, LastOffsetDelta: h.LastOffsetDelta,
		FirstTimestamp: h.BaseTimestamp, MaxTimestamp: h.MaxTimestamp, ProducerID: h.ProducerID,
		ProducerEpoch: h.ProducerEpoch, FirstSequence: h.BaseSequence, NumRecords: h.NumRecords}
	return kb.AppendTo(nil)
}

// FuzzValidateBatches: accepted input is a run of whole batches covering every byte, each with
// a sound header that re-encodes (kmsg) to the bytes it was read from.
func FuzzValidateBatches(f *testing.F) {
	f.Add(simpleBatch(f, 2, 8, 1))
	f.Add(append(simpleBatch(f, 1, 3, 1), simpleBatch(f, 3, 2, 9)...))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 49, 0, 0, 0, 0, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, err := ValidateBatches(b, 1<<20)
		if err != nil {
			return
		}
		total := 0
		for _, h := range hs {
			if h.NumRecords < 1 || h.Size() < batchHeaderSize {
				t.Fatalf("accepted bad header %+v", h)
			}
			if got := headerBytes(h); !bytes.Equal(got, b[total:total+batchHeaderSize]) {
				t.Fatalf("header at %d parsed as %+v, which encodes to % x, not % x", total, h, got, b[total:total+batchHeaderSize])
			}
			if crc := crc32.Checksum(b[total+offAttributes:total+h.Size()], castagnoli); crc != h.CRC {
				t.Fatalf("accepted a batch whose CRC-32C is %08x, header says %08x", crc, h.CRC)
			}
			total += h.Size()
		}
		if total != len(b) {
			t.Fatalf("headers cover %d of %d bytes", total, len(b))
		}
	})
}

// FuzzParseBatchHeader: a parsed header re-encodes (kmsg) to exactly the bytes it came from.
func FuzzParseBatchHeader(f *testing.F) {
	f.Add(simpleBatch(f, 1, 1, 1))
	f.Add(buildBatch(f, []testRecord{{value: []byte("v"), ts: 5}}, batchOpts{codec: 2, pid: 9, epoch: 3, seq: 100}))
	f.Add(make([]byte, 61))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseBatchHeader(b)
		if err != nil {
			return
		}
		if h.Magic != 2 || len(b) < batchHeaderSize {
			t.Fatalf("accepted %+v from %d bytes", h, len(b))
		}
		if got := headerBytes(h); !bytes.Equal(got, b[:batchHeaderSize]) {
			t.Fatalf("parsed %+v, which encodes to % x, not % x", h, got, b[:batchHeaderSize])
		}
	})
}

// FuzzDecodeRecords: whatever DecodeRecords accepts, an independent decoder (franz-go's kmsg,
// over the body DecodeRecords' own decompressor produced) reads the same way, field by field:
// every header field, and every record's offset, timestamp, key, value (null distinct from
// empty) and headers.
func FuzzDecodeRecords(f *testing.F) {
	recs := []testRecord{
		{key: []byte("k"), value: []byte("v"), ts: 3, headers: []kmsg.Header{{Key: "h", Value: []byte("1")}, {Key: "n"}}},
		{value: []byte("w"), ts: 4},
		{key: []byte{}, ts: 9},
	}
	for codec := 0; codec <= 4; codec++ {
		f.Add(buildBatch(f, recs, batchOpts{codec: codec}))
		f.Add(buildBatch(f, recs[:1], batchOpts{codec: codec, pid: 7, epoch: 2, seq: 11, baseTime: 1}))
	}
	// Bytes after the last record, inside the batch length (the fuzz body recomputes the CRC).
	trailing := append(buildBatch(f, recs[1:2], batchOpts{}), 0, 0, 0)
	binary.BigEndian.PutUint32(trailing[offBatchLength:], uint32(len(trailing)-logOverhead))
	f.Add(trailing)
	f.Fuzz(func(t *testing.T, in []byte) {
		// The fuzzer owns in: work on a copy. The CRC makes random mutations fail early;
		// recompute it so the record parser and the decompressors see the fuzzed bytes.
		// The CRC covers the declared batch only (as DecodeRecords checks it), so inputs with
		// bytes past the batch, or a batch length the fuzzer shrank, reach the parser too.
		b := append([]byte(nil), in...)
		if len(b) >= batchHeaderSize {
			end := len(b)
			if n := int(int32(binary.BigEndian.Uint32(b[offBatchLength:]))) + logOverhead; n >= batchHeaderSize && n <= len(b) {
				end = n
			}
			binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:end], castagnoli))
		}
		h, out, err := DecodeRecords(b)
		if err != nil {
			return
		}
		if int32(len(out)) != h.NumRecords {
			t.Fatalf("%d records decoded, header says %d", len(out), h.NumRecords)
		}
		var kb kmsg.RecordBatch
		if err := kb.ReadFrom(b[:h.Size()]); err != nil {
			t.Fatalf("kmsg cannot read a batch DecodeRecords accepted: %v", err)
		}
		want := BatchHeader{BaseOffset: kb.FirstOffset, BatchLength: kb.Length, PartitionLeaderEpoch: kb.PartitionLeaderEpoch,
			Magic: kb.Magic, CRC: uint32(kb.CRC), Attributes: kb.Attributes, LastOffsetDelta: kb.LastOffsetDelta,
			BaseTimestamp: kb.FirstTimestamp, MaxTimestamp: kb.MaxTimestamp, ProducerID: kb.ProducerID,
			ProducerEpoch: kb.ProducerEpoch, BaseSequence: kb.FirstSequence, NumRecords: kb.NumRecords}
		if h != want {
			t.Fatalf("header %+v, kmsg reads %+v", h, want)
		}
		body := b[batchHeaderSize:h.Size()]
		if c := h.Compression(); c != 0 {
			if body, err = decompress(c, body); err != nil {
				t.Fatalf("decompress: %v (DecodeRecords succeeded)", err)
			}
		}
		for i, got := range out {
			var kr kmsg.Record
			if err := kr.ReadFrom(body); err != nil {
				t.Fatalf("record %d: kmsg cannot read what DecodeRecords accepted: %v", i, err)
			}
			n := varintSize(kr.Length) + int(kr.Length)
			if kr.Length < 0 || n > len(body) {
				t.Fatalf("record %d: kmsg length %d of %d bytes", i, kr.Length, len(body))
			}
			body = body[n:]
			if got.Offset != h.BaseOffset+int64(kr.OffsetDelta) || got.Timestamp != h.BaseTimestamp+kr.TimestampDelta64 {
				t.Fatalf("record %d at offset %d ts %d; kmsg: delta %d ts delta %d", i, got.Offset, got.Timestamp, kr.OffsetDelta, kr.TimestampDelta64)
			}
			if !sameBytes(got.Key, kr.Key) || !sameBytes(got.Value, kr.Value) || len(got.Headers) != len(kr.Headers) {
				t.Fatalf("record %d: key %q value %q %d headers; kmsg: %q %q %d", i, got.Key, got.Value, len(got.Headers), kr.Key, kr.Value, len(kr.Headers))
			}
			for j, hd := range got.Headers {
				if hd.Key != kr.Headers[j].Key || !sameBytes(hd.Value, kr.Headers[j].Value) {
					t.Fatalf("record %d header %d: %q=%q; kmsg %q=%q", i, j, hd.Key, hd.Value, kr.Headers[j].Key, kr.Headers[j].Value)
				}
			}
		}
		if len(body) != 0 {
			t.Fatalf("%d bytes after the last record were accepted", len(body))
		}
	})
}

// sameBytes is bytes.Equal that also tells null from empty.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }
