package broker

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/zktest"
)

// testBatch encodes one magic-2 batch of single-byte-valued records with the franz-go codec and
// a correct CRC. attrs are the batch attributes; fix may change the records' bytes before the
// CRC is computed (to break their framing while keeping the batch checksum valid).
func testBatch(ts int64, n int, attrs int16, fix func(records []byte) []byte) []byte {
	var recs []byte
	for i := 0; i < n; i++ {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte{byte('a' + i)}}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	if fix != nil {
		recs = fix(recs)
	}
	b := kmsg.RecordBatch{Magic: 2, Attributes: attrs, LastOffsetDelta: int32(n - 1), FirstTimestamp: ts,
		MaxTimestamp: ts, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(n), Records: recs}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:12], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:21], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// TestProduceValidation drives Produce requests a real client would never send against a real
// broker and log: each gets Kafka's error code, nothing refused reaches the log, and the
// well-formed partitions of the same request are still written.
func TestProduceValidation(t *testing.T) {
	zks := zktest.Start(t)
	b := startBroker(t, testConfig(t, zks, 1, "/produce-validation"))
	addr := b.Addr("PLAINTEXT").String()
	cl := newClient(t, addr)
	adm := adminOf(cl)
	ctx := ctxT(t, 60*time.Second)
	skew := "60000"
	if r, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"message.timestamp.difference.max.ms": &skew}, "v"); err != nil || r.Err != nil {
		t.Fatalf("create: %v %v", err, r.Err)
	}
	now := time.Now().UnixMilli()

	type part struct {
		p       int32
		records []byte
	}
	produce := func(txn *string, parts ...part) *kmsg.ProduceResponse {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis, req.TransactionID = -1, 5000, txn
		for _, p := range parts {
			req.Topics = append(req.Topics, kmsg.ProduceRequestTopic{Topic: "v",
				Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: p.p, Records: p.records}}})
		}
		resp, err := cl.Broker(1).Request(ctx, req)
		if err != nil {
			t.Fatalf("produce: %v", err)
		}
		return resp.(*kmsg.ProduceResponse)
	}
	codes := func(r *kmsg.ProduceResponse) []int16 {
		var out []int16
		for _, rt := range r.Topics {
			for _, rp := range rt.Partitions {
				out = append(out, rp.ErrorCode)
			}
		}
		return out
	}
	endOffsets := func() [2]int64 {
		t.Helper()
		ends, err := adm.ListEndOffsets(ctx, "v")
		if err != nil {
			t.Fatal(err)
		}
		var out [2]int64
		for p := int32(0); p < 2; p++ {
			o, _ := ends.Lookup("v", p)
			out[p] = o.Offset
		}
		return out
	}
	good := testBatch(now, 2, 0, nil)

	// Partition 0 twice, partition 1 once: both entries of 0 are refused, 1 is written.
	r := produce(nil, part{0, good}, part{1, testBatch(now, 3, 0, nil)}, part{0, testBatch(now, 1, 0, nil)})
	if got := codes(r); got[0] != kerr.InvalidRecord.Code || got[1] != 0 || got[2] != kerr.InvalidRecord.Code {
		t.Fatalf("duplicate partition: codes %v", got)
	}
	if ends := endOffsets(); ends != [2]int64{0, 3} {
		t.Fatalf("end offsets %v after the duplicate-partition request, want [0 3]", ends)
	}

	for _, tc := range []struct {
		name    string
		txn     *string
		records []byte
		want    *kerr.Error
	}{
		{"record length not its fields' size", nil, testBatch(now, 2, 0, func(b []byte) []byte { b[0] += 6; return b }), kerr.InvalidRecord},
		{"fewer records than declared", nil, testBatch(now, 2, 0, func(b []byte) []byte { return b[:len(b)/2] }), kerr.InvalidRecord},
		{"timestamp an hour old", nil, testBatch(now-3_600_000, 1, 0, nil), kerr.InvalidTimestamp},
		{"timestamp an hour ahead", nil, testBatch(now+3_600_000, 1, 0, nil), kerr.InvalidTimestamp},
		{"producer-set LogAppendTime", nil, testBatch(now, 1, 0x08, nil), kerr.InvalidTimestamp},
		{"control batch", nil, testBatch(now, 1, 0x20, nil), kerr.InvalidRecord},
		{"transactional batch, no transactional id", nil, testBatch(now, 1, 0x10, nil), kerr.TransactionalIDAuthorizationFailed},
	} {
		before := endOffsets()
		r := produce(tc.txn, part{0, tc.records})
		if got := codes(r); len(got) != 1 || got[0] != tc.want.Code {
			t.Errorf("%s: codes %v, want %v", tc.name, got, tc.want)
		}
		if after := endOffsets(); after != before {
			t.Errorf("%s: end offsets moved %v -> %v", tc.name, before, after)
		}
	}

	// A transactional batch on one partition fails the whole request, as Kafka does.
	r = produce(nil, part{0, good}, part{1, testBatch(now, 1, 0x10, nil)})
	if got := codes(r); got[0] != kerr.TransactionalIDAuthorizationFailed.Code || got[1] != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("transactional batch in a mixed request: codes %v", got)
	}
	// And the well-formed batch still goes in on its own.
	if got := codes(produce(nil, part{0, good})); got[0] != 0 {
		t.Fatalf("good batch: codes %v", got)
	}
	if ends := endOffsets(); ends != [2]int64{2, 3} {
		t.Fatalf("end offsets %v, want [2 3]", ends)
	}
}
