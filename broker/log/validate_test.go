package log

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// recordSpec builds one record's bytes field by field, so a test can break any one of them.
// Lengths are written as given: -1 is a null key or value.
type recordSpec struct {
	tsDelta, offsetDelta int64
	key, value           []byte
	keyLen, valueLen     int64 // used instead of len(key)/len(value) when non-zero
	headers              []kmsg.Header
	headerCount          int64 // used instead of len(headers) when non-zero
	pad                  int   // bytes appended inside the record after its fields
	lengthDelta          int64 // added to the true body length in the length prefix
}

func (r recordSpec) bytes() []byte {
	var body []byte
	body = append(body, 0) // attributes
	body = binary.AppendVarint(body, r.tsDelta)
	body = binary.AppendVarint(body, r.offsetDelta)
	lenOr := func(n int64, b []byte) int64 {
		if n != 0 {
			return n
		}
		if b == nil {
			return -1
		}
		return int64(len(b))
	}
	body = binary.AppendVarint(body, lenOr(r.keyLen, r.key))
	body = append(body, r.key...)
	body = binary.AppendVarint(body, lenOr(r.valueLen, r.value))
	body = append(body, r.value...)
	hc := int64(len(r.headers))
	if r.headerCount != 0 {
		hc = r.headerCount
	}
	body = binary.AppendVarint(body, hc)
	for _, h := range r.headers {
		body = binary.AppendVarint(body, int64(len(h.Key)))
		body = append(body, h.Key...)
		body = binary.AppendVarint(body, int64(len(h.Value)))
		body = append(body, h.Value...)
	}
	body = append(body, make([]byte, r.pad)...)
	out := binary.AppendVarint(nil, int64(len(body))+r.lengthDelta)
	return append(out, body...)
}

// rawBatch wraps a records region in a valid magic-2 header (n records, CRC set).
func rawBatch(records []byte, n int32, baseTs, maxTs int64, attrs int16) []byte {
	b := make([]byte, batchHeaderSize, batchHeaderSize+len(records))
	b = append(b, records...)
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-logOverhead))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], math.MaxUint32)
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(attrs))
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(n-1))
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(baseTs))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(maxTs))
	binary.BigEndian.PutUint64(b[offProducerID:], math.MaxUint64)
	binary.BigEndian.PutUint16(b[offProducerEpoch:], math.MaxUint16)
	binary.BigEndian.PutUint32(b[offBaseSequence:], math.MaxUint32)
	binary.BigEndian.PutUint32(b[offNumRecords:], uint32(n))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestCheckRecordsFraming(t *testing.T) {
	ok := recordSpec{key: []byte("k"), value: []byte("v"), headers: []kmsg.Header{{Key: "h", Value: []byte("x")}}}
	second := recordSpec{offsetDelta: 1, value: []byte("w")}
	for _, tc := range []struct {
		name    string
		records []byte
		n       int32
		want    error
	}{
		{"valid", concat(ok.bytes(), second.bytes()), 2, nil},
		{"null key and value", recordSpec{}.bytes(), 1, nil},
		{"null header value", recordSpec{headers: []kmsg.Header{{Key: "h"}}}.bytes(), 1, nil},
		{"fewer records than declared", ok.bytes(), 2, ErrInvalidRecord},
		{"more records than declared", concat(ok.bytes(), second.bytes()), 1, ErrInvalidRecord},
		{"length beyond the batch", recordSpec{lengthDelta: 5, value: []byte("v")}.bytes(), 1, ErrInvalidRecord},
		{"length shorter than the fields", recordSpec{lengthDelta: -2, value: []byte("vv")}.bytes(), 1, ErrInvalidRecord},
		{"padding inside the record", recordSpec{pad: 3}.bytes(), 1, ErrInvalidRecord},
		{"zero length", []byte{0}, 1, ErrInvalidRecord},
		{"negative length", []byte{1}, 1, ErrInvalidRecord},
		{"length varint too long", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 1, ErrInvalidRecord},
		{"length varint above 32 bits", []byte{0xff, 0xff, 0xff, 0xff, 0x1f}, 1, ErrInvalidRecord},
		{"truncated length varint", []byte{0x80}, 1, ErrInvalidRecord},
		{"key longer than the record", recordSpec{keyLen: 40, key: []byte("k")}.bytes(), 1, ErrInvalidRecord},
		{"value longer than the record", recordSpec{valueLen: 9, value: []byte("v")}.bytes(), 1, ErrInvalidRecord},
		{"negative header count", recordSpec{headerCount: -1}.bytes(), 1, ErrInvalidRecord},
		{"header count beyond the record", recordSpec{headerCount: 1000}.bytes(), 1, ErrInvalidRecord},
		{"header count of 2^31-1", recordSpec{headerCount: math.MaxInt32}.bytes(), 1, ErrInvalidRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := rawBatch(tc.records, tc.n, 1000, 1000, 0)
			h, err := ParseBatchHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			err = checkRecords(b, h, minTs, maxTs)
			if tc.want == nil && err != nil {
				t.Fatalf("valid records refused: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheckRecordsNegativeHeaderKey(t *testing.T) {
	// attributes, ts delta 0, offset delta 0, null key, null value, 1 header, key size -1
	body := []byte{0, 0, 0, 1, 1, 2, 1}
	rec := append(binary.AppendVarint(nil, int64(len(body))), body...)
	b := rawBatch(rec, 1, 0, 0, 0)
	h, _ := ParseBatchHeader(b)
	if err := checkRecords(b, h, minTs, maxTs); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("negative header key size: %v", err)
	}
}

// The records the franz-go codec writes — keys, values, headers, every shape — pass the check,
// and agree with the record reader.
func TestCheckRecordsAcceptsWhatClientsWrite(t *testing.T) {
	recs := []testRecord{
		{key: []byte("k"), value: []byte("v"), ts: 5},
		{value: make([]byte, 300), ts: 7, headers: []kmsg.Header{kmsgHeader("a", "1"), kmsgHeader("", "")}},
		{key: make([]byte, 20000), ts: 4},
	}
	b := buildBatch(t, recs, batchOpts{})
	h, err := ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkRecords(b, h, minTs, maxTs); err != nil {
		t.Fatalf("franz-go batch refused: %v", err)
	}
}

func TestLeaderTimestampRules(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clk := &clock{t: now}
	cfg := DefaultConfig()
	cfg.MaxTimestampDiffMs = 60_000
	dir := t.TempDir()
	m := openTestManager(t, dir, cfg, clk.now)
	defer m.Close()
	l, err := m.GetOrCreateLog(TopicPartition{"ts", 0}, cfg, [16]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	nowMs := now.UnixMilli()
	rec := func(ts int64) testRecord { return testRecord{value: []byte("v"), ts: ts} }
	for _, tc := range []struct {
		name string
		recs []testRecord
		opts batchOpts
		want error
	}{
		{"within the window", []testRecord{rec(nowMs - 59_000), rec(nowMs + 59_000)}, batchOpts{}, nil},
		{"no timestamp", []testRecord{rec(-1)}, batchOpts{baseTime: -1}, nil},
		{"record too old", []testRecord{rec(nowMs), rec(nowMs - 61_000)}, batchOpts{}, ErrInvalidTimestamp},
		{"record in the future", []testRecord{rec(nowMs + 61_000)}, batchOpts{}, ErrInvalidTimestamp},
		{"compressed, max too new", []testRecord{rec(nowMs), rec(nowMs + 61_000)}, batchOpts{codec: 1}, ErrInvalidTimestamp},
		{"compressed, first too old", []testRecord{rec(nowMs - 61_000), rec(nowMs)}, batchOpts{codec: 2}, ErrInvalidTimestamp},
		{"compressed, within", []testRecord{rec(nowMs), rec(nowMs + 1)}, batchOpts{codec: 3}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := l.LogEndOffset()
			_, err := l.AppendAsLeader(buildBatch(t, tc.recs, tc.opts), 0)
			if tc.want == nil && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("error %v, want %v", err, tc.want)
				}
				if l.LogEndOffset() != before {
					t.Fatal("a refused batch was written")
				}
			}
		})
	}

	// A producer may not set LogAppendTime itself, whatever the topic's timestamp type.
	b := buildBatch(t, []testRecord{rec(nowMs)}, batchOpts{})
	b[offAttributes+1] |= attrTimestampType
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	if _, err := l.AppendAsLeader(b, 0); !errors.Is(err, ErrInvalidTimestamp) {
		t.Fatalf("producer-set LogAppendTime: %v", err)
	}

	// With LogAppendTime the broker overwrites timestamps, so their range is not checked.
	lat := cfg
	lat.LogAppendTime = true
	l.SetConfig(lat)
	info, err := l.AppendAsLeader(buildBatch(t, []testRecord{rec(1)}, batchOpts{}), 0)
	if err != nil || info.LogAppendTime != nowMs {
		t.Fatalf("LogAppendTime topic: %+v %v", info, err)
	}
}

func TestTimestampBounds(t *testing.T) {
	for _, tc := range []struct{ now, diff, lo, hi int64 }{
		{1000, math.MaxInt64, minTs, maxTs},
		{1000, 0, minTs, maxTs},
		{1000, 10, 990, 1010},
		{maxTs - 5, 10, maxTs - 15, maxTs},
		{minTs + 5, 10, minTs, minTs + 15},
	} {
		if lo, hi := timestampBounds(tc.now, tc.diff); lo != tc.lo || hi != tc.hi {
			t.Errorf("timestampBounds(%d, %d) = %d, %d; want %d, %d", tc.now, tc.diff, lo, hi, tc.lo, tc.hi)
		}
	}
}

func TestUvarintAt32(t *testing.T) {
	for _, v := range []int32{0, 1, -1, 63, -64, 64, 1 << 20, math.MaxInt32, math.MinInt32} {
		b := binary.AppendVarint(nil, int64(v))
		x, next := uvarintAt(b, 0, 5)
		if next != len(b) || zigzag32(x) != v {
			t.Errorf("%d: got %d next %d", v, zigzag32(x), next)
		}
	}
	if _, next := uvarintAt(binary.AppendVarint(nil, math.MaxInt32+1), 0, 5); next != -1 {
		t.Error("a 33-bit varint was accepted")
	}
}

// refVarint32 is the reference for a 32-bit zig-zag varint (Kafka's ByteUtils.readVarint, with
// the fifth byte's unused bits refused): at most 5 bytes, a value that fits in 32 bits.
func refVarint32(b []byte) (v int32, next int, ok bool) {
	x, n := binary.Uvarint(b)
	if n <= 0 || n > 5 || x>>32 != 0 {
		return 0, 0, false
	}
	return int32(uint32(x)>>1) ^ -int32(x&1), n, true
}

// FuzzCheckRecords: on an uncompressed batch, a record set the check accepts is one the record
// reader decodes into exactly the declared records — the check never lets through what the
// tools (dump-log, compaction) cannot read. It must never panic on any input.
func FuzzCheckRecords(f *testing.F) {
	ok := recordSpec{key: []byte("k"), value: []byte("v"), headers: []kmsg.Header{{Key: "h", Value: []byte("x")}}}
	f.Add(concat(ok.bytes(), recordSpec{offsetDelta: 1}.bytes()), int32(2))
	f.Add(recordSpec{headerCount: math.MaxInt32}.bytes(), int32(1))
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, int32(1))
	f.Fuzz(func(t *testing.T, records []byte, n int32) {
		if n <= 0 {
			n = 1
		}
		b := rawBatch(records, n, 1000, 1000, 0)
		h, err := ParseBatchHeader(b)
		if err != nil {
			return
		}
		// The fast walk and the field-by-field one agree on every record.
		slow := error(nil)
		for i, p := int32(0), batchHeaderSize; i < n && slow == nil; i++ {
			next, ts, err := walkRecord(b, p, i)
			fnext, fts, ok := walkRecordFast(b, p)
			if ok != (err == nil) || ok && (fnext != next || fts != ts) {
				t.Fatalf("record %d at %d: fast walk %d %d %v, field by field %d %d %v", i, p, fnext, fts, ok, next, ts, err)
			}
			p, slow = next, err
		}
		if checkRecords(b, h, minTs, maxTs) != nil {
			return
		}
		_, recs, err := DecodeRecords(b)
		if err != nil || int32(len(recs)) != n {
			t.Fatalf("checkRecords accepted %d records the reader does not decode: %d records, %v", n, len(recs), err)
		}
	})
}

// BenchmarkValidateBatches measures what the record-framing walk adds to the CRC and header
// checks of a produce batch, for small and large records: compare /crc-only with /with-records.
func BenchmarkValidateBatches(b *testing.B) {
	for _, shape := range []struct {
		name    string
		n, size int
	}{{"1000x100B", 1000, 100}, {"100x10KiB", 100, 10 << 10}} {
		batch := simpleBatch(b, shape.n, shape.size, 1000)
		b.Run(shape.name+"/crc-only", func(b *testing.B) {
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := validateOne(batch, 0, true); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(shape.name+"/with-records", func(b *testing.B) {
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				h, err := validateOne(batch, 0, true)
				if err != nil {
					b.Fatal(err)
				}
				if err := checkRecords(batch, h, 0, maxTs); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(shape.name+"/records-only", func(b *testing.B) {
			h, _ := ParseBatchHeader(batch)
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := checkRecords(batch, h, 0, maxTs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestVarintReaders: the walk's readers agree with the general decoders — the one- and two-byte
// fast form (followed by more bytes, or at the end of the buffer) and the any-length form, on
// every two-byte prefix and on the widest values each type holds.
func TestVarintReaders(t *testing.T) {
	for b0 := 0; b0 < 256; b0++ {
		for b1 := 0; b1 < 256; b1++ {
			for _, buf := range [][]byte{{byte(b0), byte(b1), 0x55}, {byte(b0), byte(b1)}, {byte(b0)}} {
				want32, next, ok := refVarint32(buf)
				if x, p := shortVarint(buf, 0); p >= 0 && (!ok || zigzag32(x) != want32 || p != next) {
					t.Fatalf("shortVarint % x: %d at %d, want %d at %d (%v)", buf, zigzag32(x), p, want32, next, ok)
				}
				if x, p := uvarintAt(buf, 0, 5); (p >= 0) != ok || ok && (zigzag32(x) != want32 || p != next) {
					t.Fatalf("uvarintAt(5) % x: %d at %d, want %d at %d (%v)", buf, zigzag32(x), p, want32, next, ok)
				}
				want64, n := binary.Varint(buf)
				if x, p := uvarintAt(buf, 0, 10); (p >= 0) != (n > 0) || n > 0 && (int64(x>>1)^-int64(x&1) != want64 || p != n) {
					t.Fatalf("uvarintAt(10) % x: %d at %d, want %d at %d", buf, x, p, want64, n)
				}
			}
		}
	}
	for _, v := range []int64{math.MaxInt32, math.MinInt32, math.MaxInt32 + 1, math.MinInt32 - 1, math.MaxInt64, math.MinInt64} {
		buf := binary.AppendVarint(nil, v)
		want32, next, ok := refVarint32(buf)
		if x, p := uvarintAt(buf, 0, 5); (p >= 0) != ok || ok && (zigzag32(x) != want32 || p != next) {
			t.Errorf("uvarintAt(5) of %d: %d at %d, want %d at %d (%v)", v, zigzag32(x), p, want32, next, ok)
		}
		if x, p := uvarintAt(buf, 0, 10); p != len(buf) || int64(x>>1)^-int64(x&1) != v {
			t.Errorf("uvarintAt(10) of %d: %d at %d", v, int64(x>>1)^-int64(x&1), p)
		}
	}
	if _, p := uvarintAt([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 0, 10); p != -1 {
		t.Error("a varint wider than 64 bits was accepted")
	}
}
