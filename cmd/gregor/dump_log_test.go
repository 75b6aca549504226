package main

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
)

func testBatch(values ...string) []byte {
	var body []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), Key: []byte("k"), Value: []byte(v), Headers: []kmsg.Header{{Key: "h", Value: []byte("x")}}}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		body = r.AppendTo(body)
	}
	b := kmsg.RecordBatch{Magic: 2, LastOffsetDelta: int32(len(values) - 1), FirstTimestamp: 1000, MaxTimestamp: 1000,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(values)), Records: body}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

func TestDumpSegment(t *testing.T) {
	dir := t.TempDir()
	m, err := klog.OpenManager(klog.ManagerOptions{Dirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := m.GetOrCreateLog(klog.TopicPartition{Topic: "orders", Partition: 0}, klog.DefaultConfig(), [16]byte{})
	l.AppendAsLeader(testBatch("first", "second"), 0)
	l.AppendAsLeader(testBatch("third"), 1)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := dumpSegment(&out, filepath.Join(dir, "orders-0", "00000000000000000000.log"), true); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"baseOffset: 0 lastOffset: 1 count: 2",
		"baseOffset: 2 lastOffset: 2 count: 1",
		"partitionLeaderEpoch: 1",
		"compresscodec: none",
		"isvalid: true",
		"| offset: 1 CreateTime: 1000 keySize: 1 valueSize: 6 sequence: -1 headerKeys: [h] key: k payload: second",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("dump-log output lacks %q:\n%s", want, got)
		}
	}
}
