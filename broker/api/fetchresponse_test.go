package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/network"
)

// validBatch is a magic-2 batch of n uncompressed records with size-byte values, CRC included.
func validBatch(n, size int) []byte {
	var recs []byte
	for i := 0; i < n; i++ {
		var body []byte
		body = append(body, 0)                     // attributes
		body = binary.AppendVarint(body, 0)        // timestamp delta
		body = binary.AppendVarint(body, int64(i)) // offset delta
		body = binary.AppendVarint(body, -1)       // null key
		body = binary.AppendVarint(body, int64(size))
		body = append(body, bytes.Repeat([]byte{byte(i)}, size)...)
		body = binary.AppendVarint(body, 0) // headers
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	b := make([]byte, 61, 61+len(recs))
	b = append(b, recs...)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	b[16] = 2
	binary.BigEndian.PutUint32(b[23:], uint32(n-1))
	binary.BigEndian.PutUint64(b[27:], 1000)
	binary.BigEndian.PutUint64(b[35:], 1000)
	binary.BigEndian.PutUint64(b[43:], ^uint64(0)) // producer id -1
	binary.BigEndian.PutUint16(b[51:], 0xffff)
	binary.BigEndian.PutUint32(b[53:], 0xffffffff)
	binary.BigEndian.PutUint32(b[57:], uint32(n))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// testLog is a log of 12 batches over several small segments.
func testLog(t testing.TB) *klog.Log {
	t.Helper()
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	logs, err := klog.OpenManager(klog.ManagerOptions{Dirs: []string{t.TempDir()}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logs.Close() })
	cfg := klog.DefaultConfig()
	cfg.SegmentBytes = 2048
	l, err := logs.GetOrCreateLog(klog.TopicPartition{Topic: "t", Partition: 0}, cfg, [16]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		if _, err := l.AppendAsLeader(validBatch(4, 100), 3); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// materialize puts the sections' bytes in their places.
func materialize(t *testing.T, fixed []byte, secs []network.Section) []byte {
	t.Helper()
	var out []byte
	from := 0
	for _, s := range secs {
		out = append(out, fixed[from:s.At]...)
		_, ra, off, n := s.Src.Range()
		buf := make([]byte, n)
		if _, err := ra.ReadAt(buf, off); err != nil {
			t.Fatal(err)
		}
		out = append(out, buf...)
		from = s.At
	}
	return append(out, fixed[from:]...)
}

// TestFetchResponseZeroCopyEncoding: at every served version, the zero-copy encoding with the
// file bytes put in place is byte for byte kmsg's encoding of the same response with the bytes
// in RecordBatches — file-held records spanning two segments, inline records, empty and error
// partitions, a diverging epoch (a tagged field after the records in v12), several topics.
func TestFetchResponseZeroCopyEncoding(t *testing.T) {
	l := testLog(t)
	for v := int16(4); v <= 12; v++ {
		recs, err := l.ReadRecords(2, 3000, -1, true)
		if err != nil {
			t.Fatal(err)
		}
		if recs.Slices() != 2 {
			t.Fatalf("want records over two segments, got %d slice(s)", recs.Slices())
		}
		data, err := recs.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		fr := &fetchResponse{}
		fr.Default()
		fr.SetVersion(v)
		fr.ThrottleMillis, fr.SessionID = 7, 0
		part := func(p int32) kmsg.FetchResponseTopicPartition {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition, rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = p, 48, 48, 0
			rp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			rp.RecordBatches = []byte{}
			return rp
		}
		withFiles := part(0)
		inline := part(1)
		inline.RecordBatches = data[:len(data)/2]
		failed := part(2)
		setFetchError(&failed, klog.ErrOffsetOutOfRange)
		diverging := part(3)
		diverging.DivergingEpoch.Epoch, diverging.DivergingEpoch.EndOffset = 2, 40
		nullAborted := part(4)
		nullAborted.AbortedTransactions = nil
		last := part(5) // file-held and the response's last field before v12's tags
		fr.Topics = []kmsg.FetchResponseTopic{
			{Topic: "t", Partitions: []kmsg.FetchResponseTopicPartition{withFiles, inline, failed}},
			{Topic: "other", Partitions: []kmsg.FetchResponseTopicPartition{diverging, nullAborted, last}},
		}
		recs2, err := l.ReadRecords(40, 1<<20, -1, true)
		if err != nil {
			t.Fatal(err)
		}
		data2, _ := recs2.AppendTo(nil)
		fr.files = []*klog.Records{&recs, nil, nil, nil, nil, &recs2}

		fixed, secs := fr.AppendZeroCopy(nil, nil)
		got := materialize(t, fixed, secs)

		want := fr.FetchResponse // a copy with the bytes in place
		want.Topics = []kmsg.FetchResponseTopic{
			{Topic: "t", Partitions: []kmsg.FetchResponseTopicPartition{withFiles, inline, failed}},
			{Topic: "other", Partitions: []kmsg.FetchResponseTopicPartition{diverging, nullAborted, last}},
		}
		want.Topics[0].Partitions[0].RecordBatches = data
		want.Topics[1].Partitions[2].RecordBatches = data2
		if wb := want.AppendTo(nil); !bytes.Equal(got, wb) {
			t.Fatalf("v%d: zero-copy encoding differs from kmsg's (%d vs %d bytes)\n got %x\nwant %x", v, len(got), len(wb), got, wb)
		}
		// The copying AppendTo (writers other than the network's) gives the same bytes.
		if cb := fr.AppendTo(nil); !bytes.Equal(cb, got) {
			t.Fatalf("v%d: copying AppendTo differs", v)
		}
		recs.Release()
		recs2.Release()
	}
}

// TestFetchFirstBatchWholeAboveMaxBytes: through the handler's zero-copy path, a fetch whose
// first batch is larger than its max bytes gets that whole batch (Kafka's rule, so a consumer
// always progresses), and no more; on the wire it is the batch's bytes.
func TestFetchFirstBatchWholeAboveMaxBytes(t *testing.T) {
	h := benchHandler(t, 1)
	ctx := context.Background()
	var batches [][]byte
	for i := 0; i < 3; i++ {
		frame := produceFrame(1, 200) // ~22 KB batches
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(9)
		if err := req.ReadFrom(frame); err != nil {
			t.Fatal(err)
		}
		resp, err := h.Handle(ctx, &network.Request{Key: 0, Version: 9, Body: req})
		if err != nil || resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("produce: %v %+v", err, resp)
		}
		batches = append(batches, req.Topics[0].Partitions[0].Records) // stamped in place
	}
	for _, maxBytes := range []int32{1, 100, int32(len(batches[0])) + 10} {
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(12)
		req.ReplicaID, req.MaxBytes, req.SessionEpoch = -1, maxBytes, -1
		pp := kmsg.NewFetchRequestTopicPartition()
		pp.FetchOffset, pp.PartitionMaxBytes, pp.CurrentLeaderEpoch = 0, maxBytes, -1
		req.Topics = []kmsg.FetchRequestTopic{{Topic: "t", Partitions: []kmsg.FetchRequestTopicPartition{pp}}}
		resp, err := h.Handle(ctx, &network.Request{Key: 1, Version: 12, Body: req})
		if err != nil {
			t.Fatal(err)
		}
		fr, ok := resp.(*fetchResponse)
		if !ok {
			t.Fatalf("max bytes %d: no records (%+v)", maxBytes, resp)
		}
		fixed, secs := fr.AppendZeroCopy(nil, nil)
		wire := materialize(t, fixed, secs)
		fr.Release()
		decoded := kmsg.NewPtrFetchResponse()
		decoded.SetVersion(12)
		if err := decoded.ReadFrom(wire); err != nil {
			t.Fatal(err)
		}
		if got := decoded.Topics[0].Partitions[0].RecordBatches; !bytes.Equal(got, batches[0]) {
			t.Fatalf("max bytes %d: %d bytes of records, want the first batch whole (%d bytes)", maxBytes, len(got), len(batches[0]))
		}
	}
}
