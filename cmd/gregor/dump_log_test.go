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
	if err := dumpSegment(&out, filepath.Join(dir, "orders-0", "00000000000000000000.log"), true, plainRecord); err != nil {
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

func TestDumpSegmentOffsetsDecoder(t *testing.T) {
	dir := t.TempDir()
	m, err := klog.OpenManager(klog.ManagerOptions{Dirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := m.GetOrCreateLog(klog.TopicPartition{Topic: "__consumer_offsets", Partition: 7}, klog.DefaultConfig(), [16]byte{})
	key := func(group, topic string, p int32) []byte {
		k := kmsg.OffsetCommitKey{Version: 1, Group: group, Topic: topic, Partition: p}
		return k.AppendTo(nil)
	}
	val := func(off int64, md string) []byte {
		v := kmsg.NewOffsetCommitValue()
		v.Version, v.Offset, v.Metadata, v.LeaderEpoch, v.CommitTimestamp = 3, off, md, 0, 1000
		return v.AppendTo(nil)
	}
	assign := kmsg.ConsumerMemberAssignment{Topics: []kmsg.ConsumerMemberAssignmentTopic{{Topic: "orders", Partitions: []int32{0, 2}}},
		UserData: []byte{0, 0x0a, 0xbc}}
	gv := kmsg.NewGroupMetadataValue()
	proto := "range"
	gv.Version, gv.ProtocolType, gv.Generation, gv.Protocol = 3, "consumer", 4, &proto
	gv.Members = []kmsg.GroupMetadataValueMember{{MemberID: "c-1", ClientID: "c", ClientHost: "/127.0.0.1",
		SessionTimeoutMillis: 10000, RebalanceTimeoutMillis: 30000, Subscription: []byte{}, Assignment: assign.AppendTo(nil)}}
	gk := kmsg.GroupMetadataKey{Version: 2, Group: "g<1>"}
	records := []kmsg.Record{
		{Key: key("g<1>", "orders", 0), Value: val(42, "")},
		{Key: key("g<1>", "orders", 2), Value: val(7, "note")},
		{Key: key("g<1>", "orders", 1)},
		{Key: gk.AppendTo(nil), Value: gv.AppendTo(nil)},
		{Key: gk.AppendTo(nil)},
	}
	var body []byte
	for i := range records {
		r := &records[i]
		r.OffsetDelta = int32(i)
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		body = r.AppendTo(body)
	}
	b := kmsg.RecordBatch{Magic: 2, LastOffsetDelta: int32(len(records) - 1), FirstTimestamp: 1000, MaxTimestamp: 1000,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(records)), Records: body}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	if _, err := l.AppendAsLeader(raw, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := dumpSegment(&out, filepath.Join(dir, "__consumer_offsets-7", "00000000000000000000.log"), true, offsetsRecord); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(out.String(), "\n") {
		if i := strings.Index(line, " key: "); i >= 0 {
			got = append(got, line[i+1:])
		}
	}
	want := []string{
		"key: offset_commit::group=g<1>,partition=orders-0 payload: offset=42",
		"key: offset_commit::group=g<1>,partition=orders-2 payload: offset=7,metadata=note",
		"key: offset_commit::group=g<1>,partition=orders-1 payload: <DELETE>",
		`key: group_metadata::group=g<1> payload: {"protocolType":"consumer","protocol":"range","generationId":4,"assignment":"{c-1=[orders-0, orders-2]:ABC}"}`,
		"key: group_metadata::group=g<1> payload: <DELETE>",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
