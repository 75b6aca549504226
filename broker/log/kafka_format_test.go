package log

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSegmentReadableByKafkaRules decodes a segment file written by this engine with franz-go's
// kmsg record-batch types — an independent decoder of Kafka's format — and checks every field,
// then reads the raw .index and .timeindex entries.
func TestSegmentReadableByKafkaRules(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 100
	m := openTestManager(t, t.TempDir(), cfg, nil)
	defer m.Close()
	l, _ := m.GetOrCreateLog(TopicPartition{"fmt", 3}, cfg, [16]byte{})
	type sent struct {
		recs  []testRecord
		epoch int32
		pid   int64
		seq   int32
	}
	var all []sent
	for i := 0; i < 10; i++ {
		recs := []testRecord{
			{key: []byte{'k', byte(i)}, value: []byte("value-a"), ts: 5000 + int64(i*10)},
			{key: nil, value: []byte("value-b"), ts: 5001 + int64(i*10), headers: []kmsg.Header{{Key: "h", Value: []byte{byte(i)}}}},
		}
		s := sent{recs: recs, epoch: int32(i / 4), pid: 77, seq: int32(i * 2)}
		if _, err := l.AppendAsLeader(buildBatch(t, recs, batchOpts{pid: s.pid, epoch: 1, seq: s.seq}), s.epoch); err != nil {
			t.Fatal(err)
		}
		all = append(all, s)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if filepath.Base(l.Dir()) != "fmt-3" {
		t.Fatalf("partition directory %s, want fmt-3", l.Dir())
	}
	data, err := os.ReadFile(filepath.Join(l.Dir(), "00000000000000000000.log"))
	if err != nil {
		t.Fatal(err)
	}
	positions := map[int64]int32{}
	offset := int64(0)
	for i, pos := 0, 0; pos < len(data); i++ {
		var b kmsg.RecordBatch
		if err := b.ReadFrom(data[pos:]); err != nil {
			t.Fatalf("kmsg cannot read batch %d: %v", i, err)
		}
		size := 12 + int(b.Length)
		s := all[i]
		if b.FirstOffset != offset || b.PartitionLeaderEpoch != s.epoch || b.Magic != 2 ||
			b.NumRecords != 2 || b.LastOffsetDelta != 1 || b.ProducerID != s.pid || b.ProducerEpoch != 1 ||
			b.FirstSequence != s.seq || b.FirstTimestamp != s.recs[0].ts || b.MaxTimestamp != s.recs[1].ts {
			t.Fatalf("batch %d fields: %+v", i, b)
		}
		if crc := crc32.Checksum(data[pos+21:pos+size], crc32.MakeTable(crc32.Castagnoli)); uint32(b.CRC) != crc {
			t.Fatalf("batch %d: CRC %08x, Castagnoli over attributes..end is %08x", i, uint32(b.CRC), crc)
		}
		rs := b.Records
		for j := 0; j < int(b.NumRecords); j++ {
			var r kmsg.Record
			if err := r.ReadFrom(rs); err != nil {
				t.Fatalf("batch %d record %d: %v", i, j, err)
			}
			w := s.recs[j]
			if r.OffsetDelta != int32(j) || b.FirstTimestamp+r.TimestampDelta64 != w.ts ||
				string(r.Key) != string(w.key) || (r.Key == nil) != (w.key == nil) || string(r.Value) != string(w.value) ||
				len(r.Headers) != len(w.headers) {
				t.Fatalf("batch %d record %d: %+v", i, j, r)
			}
			rs = rs[varintSize(r.Length)+int(r.Length):]
		}
		positions[offset+1] = int32(pos)
		offset += 2
		pos += size
	}
	// .index: 8-byte big-endian (relative offset, position) entries naming batch starts.
	idx, _ := os.ReadFile(filepath.Join(l.Dir(), "00000000000000000000.index"))
	if len(idx) == 0 || len(idx)%8 != 0 {
		t.Fatalf(".index is %d bytes", len(idx))
	}
	for i := 0; i < len(idx); i += 8 {
		rel := int64(binary.BigEndian.Uint32(idx[i:]))
		pos := int32(binary.BigEndian.Uint32(idx[i+4:]))
		if want, ok := positions[rel]; !ok || want != pos {
			t.Fatalf(".index entry (%d,%d): batch ending at %d starts at %d", rel, pos, rel, want)
		}
	}
	// .timeindex: 12-byte (timestamp, relative offset) entries, timestamps increasing.
	tix, _ := os.ReadFile(filepath.Join(l.Dir(), "00000000000000000000.timeindex"))
	if len(tix) == 0 || len(tix)%12 != 0 {
		t.Fatalf(".timeindex is %d bytes", len(tix))
	}
	last := int64(-1)
	for i := 0; i < len(tix); i += 12 {
		ts := int64(binary.BigEndian.Uint64(tix[i:]))
		rel := int64(binary.BigEndian.Uint32(tix[i+8:]))
		if ts <= last || (ts-5001)%10 != 0 || rel != 2*(ts-5001)/10+1 {
			t.Fatalf(".timeindex entry (%d,%d)", ts, rel)
		}
		last = ts
	}
}

func varintSize(v int32) int {
	var b [binary.MaxVarintLen32]byte
	return binary.PutVarint(b[:], int64(v))
}
