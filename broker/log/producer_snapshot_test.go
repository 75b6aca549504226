package log

import (
	"encoding/hex"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"
)

// hexBytes decodes a fixture written as hex with spaces, newlines and // comments.
func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "//")
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return b
}

// kafkaSnapshot is a producer-state snapshot laid out by hand from Apache Kafka 2.8's
// kafka.log.ProducerStateManager (PidSnapshotMapSchema / ProducerSnapshotEntrySchema):
//
//	version INT16 (= 1) | crc UNSIGNED_INT32: CRC-32C of every byte after the crc field |
//	producer_entries ARRAY (INT32 count, then per entry, in this order):
//	  producer_id INT64, epoch INT16, last_sequence INT32, last_offset INT64,
//	  offset_delta INT32, timestamp INT64, coordinator_epoch INT32, current_txn_first_offset INT64
//
// 6 + 4 + 2×46 = 102 bytes. The CRC literal was computed once with CRC-32C (Castagnoli); the
// test re-derives it and pins the polynomial with the standard check value.
const kafkaSnapshot = `
0001                 // version 1
a9190db6             // crc: CRC-32C of bytes 6..101
00000002             // 2 producer entries
// entry: producer 1000, epoch 3, last batch sequences 5..9 at offsets 116..120
00000000000003e8     // producer_id 1000
0003                 // epoch 3
00000009             // last_sequence 9
0000000000000078     // last_offset 120
00000004             // offset_delta 4 (first offset 116, first sequence 5)
0000018bcfe56800     // timestamp 1700000000000
ffffffff             // coordinator_epoch -1
ffffffffffffffff     // current_txn_first_offset -1 (none)
// entry: producer 4242, epoch 0, last batch whose sequences wrapped: 2147483646..1
0000000000001092     // producer_id 4242
0000                 // epoch 0
00000001             // last_sequence 1
00000000000001f4     // last_offset 500
00000003             // offset_delta 3 (first offset 497, first sequence 2147483646)
0000018bcfe569f4     // timestamp 1700000000500
00000005             // coordinator_epoch 5
ffffffffffffffff     // current_txn_first_offset -1
`

// kafkaState is what kafkaSnapshot holds, in Gregor's terms.
var kafkaState = map[int64]*producerEntry{
	1000: {epoch: 3, coordinatorEpoch: -1, txnFirstOffset: -1,
		batches: []batchMeta{{firstSeq: 5, lastSeq: 9, firstOffset: 116, lastOffs: 120, timestamp: 1700000000000}}},
	4242: {epoch: 0, coordinatorEpoch: 5, txnFirstOffset: -1,
		batches: []batchMeta{{firstSeq: 2147483646, lastSeq: 1, firstOffset: 497, lastOffs: 500, timestamp: 1700000000500}}},
}

// TestSnapshotMatchesKafkaLayout: Gregor writes exactly Kafka's bytes for a known state, and
// reads Kafka's bytes into that state.
func TestSnapshotMatchesKafkaLayout(t *testing.T) {
	want := hexBytes(t, kafkaSnapshot)
	if len(want) != 102 {
		t.Fatalf("fixture is %d bytes, want 6 + 4 + 2*46", len(want))
	}
	// The fixture's CRC is CRC-32C over everything after the crc field, and the table is
	// Castagnoli's: its check value for "123456789" is e3069283.
	cast := crc32.MakeTable(crc32.Castagnoli)
	if got := crc32.Checksum([]byte("123456789"), cast); got != 0xe3069283 {
		t.Fatalf("CRC-32C check value %08x", got)
	}
	if got := crc32.Checksum(want[6:], cast); got != 0xa9190db6 {
		t.Fatalf("fixture CRC-32C %08x", got)
	}

	if got := encodeSnapshot(kafkaState); string(got) != string(want) {
		t.Fatalf("encodeSnapshot differs from Kafka's layout:\ngot  %x\nwant %x", got, want)
	}
	got, err := decodeSnapshot(want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, kafkaState) {
		t.Fatalf("decoded Kafka's snapshot as %v, want %v", dumpState(got), dumpState(kafkaState))
	}
}

// TestSnapshotKafkaEntryWithoutData: Kafka also writes producers whose only log entry is a
// transaction marker (last_offset -1); reading such an entry yields the producer's epoch and
// coordinator epoch and no batch, as ProducerStateManager.readSnapshot does.
func TestSnapshotKafkaEntryWithoutData(t *testing.T) {
	b := hexBytes(t, `
0001                 // version 1
3125ad05             // crc
00000001             // 1 entry
000000000000004d     // producer_id 77
0001                 // epoch 1
ffffffff             // last_sequence -1 (none)
ffffffffffffffff     // last_offset -1: no data batch
00000000             // offset_delta 0
ffffffffffffffff     // timestamp -1
00000002             // coordinator_epoch 2
ffffffffffffffff     // current_txn_first_offset -1
`)
	got, err := decodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]*producerEntry{77: {epoch: 1, coordinatorEpoch: 2, txnFirstOffset: -1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %v, want %v", dumpState(got), dumpState(want))
	}
}

func dumpState(m map[int64]*producerEntry) map[int64]producerEntry {
	out := map[int64]producerEntry{}
	for k, v := range m {
		out[k] = *v
	}
	return out
}
