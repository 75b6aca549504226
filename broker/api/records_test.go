package api

import (
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// batch builds a syntactically plausible record-batch header of total size n (>= 61) with the
// given magic and compression codec. Only the fields the request-level checks read are set.
func batch(n int, magic byte, codec uint16) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint32(b[batchLengthOffset:], uint32(n-batchLogOverhead))
	b[batchMagicOffset] = magic
	binary.BigEndian.PutUint16(b[batchAttrOffset:], codec)
	return b
}

func TestValidateProduceRecords(t *testing.T) {
	one := batch(70, 2, 0)
	two := append(append([]byte(nil), one...), one...)
	for _, tc := range []struct {
		name    string
		version int16
		records []byte
		want    *kerr.Error
	}{
		{"one batch", 9, one, nil},
		{"gzip v3", 3, batch(70, 2, 1), nil},
		{"zstd v7", 7, batch(70, 2, 4), nil},
		{"zstd v6", 6, batch(70, 2, 4), kerr.UnsupportedCompressionType},
		{"null records", 9, nil, kerr.InvalidRecord},
		{"too short for a header", 9, one[:10], kerr.InvalidRecord},
		{"truncated batch", 9, one[:60], kerr.InvalidRecord},
		{"two batches", 9, two, kerr.InvalidRecord},
		{"trailing garbage", 9, append(append([]byte(nil), one...), 1, 2, 3), kerr.InvalidRecord},
		{"magic 1", 9, batch(70, 1, 0), kerr.InvalidRecord},
		{"tiny length", 9, func() []byte { b := batch(70, 2, 0); binary.BigEndian.PutUint32(b[8:], 3); return b }(), kerr.CorruptMessage},
		{"negative length", 9, func() []byte { b := batch(70, 2, 0); binary.BigEndian.PutUint32(b[8:], 0xffffff00); return b }(), kerr.CorruptMessage},
		{"control batch", 9, batch(70, 2, attrControl), kerr.InvalidRecord},
		{"idempotent without a sequence", 9, func() []byte {
			b := batch(70, 2, 0)
			binary.BigEndian.PutUint64(b[batchProducerIDOffset:], 7)
			binary.BigEndian.PutUint32(b[batchBaseSequenceOffset:], 0xffffffff)
			return b
		}(), kerr.InvalidRecord},
		{"idempotent with a sequence", 9, func() []byte {
			b := batch(70, 2, 0)
			binary.BigEndian.PutUint64(b[batchProducerIDOffset:], 7)
			return b
		}(), nil},
		{"no producer id, no sequence", 9, func() []byte {
			b := batch(70, 2, 0)
			binary.BigEndian.PutUint64(b[batchProducerIDOffset:], 0xffffffffffffffff)
			binary.BigEndian.PutUint32(b[batchBaseSequenceOffset:], 0xffffffff)
			return b
		}(), nil},
	} {
		err := validateProduceRecords(tc.version, tc.records)
		want := int16(0)
		if tc.want != nil {
			want = tc.want.Code
		}
		if got := ErrorCode(err); got != want {
			t.Errorf("%s: code %d (%v), want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestHasZstdBatch(t *testing.T) {
	plain, zstd := batch(80, 2, 0), batch(90, 2, 4)
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"empty", nil, false},
		{"plain", plain, false},
		{"zstd first", cat(zstd, plain), true},
		{"zstd third", cat(plain, plain, zstd), true},
		{"zstd in a partial trailing batch", cat(plain, zstd[:40]), true}, // header visible: still zstd
		{"partial header", cat(plain, zstd[:10]), false},
		{"lz4 only", cat(batch(70, 2, 3), plain), false},
	} {
		if got := hasZstdBatch(tc.b); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func FuzzValidateProduceRecords(f *testing.F) {
	f.Add(int16(9), batch(70, 2, 0))
	f.Add(int16(3), batch(70, 2, 4))
	f.Add(int16(9), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 2})
	f.Fuzz(func(t *testing.T, version int16, b []byte) {
		err := validateProduceRecords(version, b)
		if err == nil {
			// Accepted input is one whole magic-2 batch.
			if len(b) < 17 || b[16] != 2 || int64(int32(binary.BigEndian.Uint32(b[8:])))+12 != int64(len(b)) {
				t.Fatalf("accepted a malformed record set of %d bytes", len(b))
			}
		}
	})
}

func FuzzHasZstdBatch(f *testing.F) {
	f.Add(batch(70, 2, 4))
	f.Add(append(batch(70, 2, 0), batch(61, 2, 4)...))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = hasZstdBatch(b) // must not panic or loop forever on any input
	})
}
