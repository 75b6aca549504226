package e2e

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/checker"
	"github.com/gregor-broker/gregor/internal/testcluster"
)

// validBatch builds one uncompressed magic-2 batch with a single record, CRC set.
func validBatch(value []byte) []byte {
	rec := kmsg.Record{Key: []byte("k"), Value: value}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1) // varint(0) is one byte; Length counts what follows it
	recBytes := rec.AppendTo(nil)
	b := kmsg.RecordBatch{
		Magic:           2,
		LastOffsetDelta: 0,
		FirstTimestamp:  time.Now().UnixMilli(),
		MaxTimestamp:    time.Now().UnixMilli(),
		ProducerID:      -1,
		ProducerEpoch:   -1,
		FirstSequence:   -1,
		NumRecords:      1,
		Records:         recBytes,
	}
	raw := b.AppendTo(nil)
	// batchLength counts everything after the length field; CRC covers attributes..end.
	binary.BigEndian.PutUint32(raw[8:12], uint32(len(raw)-12))
	crc := crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(raw[17:21], crc)
	return raw
}

func produceRequest(topic string, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 10000
	tp := kmsg.NewProduceRequestTopic()
	tp.Topic = topic
	p := kmsg.NewProduceRequestTopicPartition()
	p.Partition = 0
	p.Records = records
	tp.Partitions = append(tp.Partitions, p)
	req.Topics = append(req.Topics, tp)
	return req
}

// TestBadInputKeepsServing: while a healthy producer runs on its own connection, a second
// connection sends, in turn, every kind of malformed input. Each gets Kafka's answer or a closed
// connection, and the healthy producer never sees an error; at the end every record it saw
// acknowledged reads back (internal/checker), and no bad input was stored.
func TestBadInputKeepsServing(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1})
	adm := newAdmin(t, c.Bootstrap())
	createTopic(t, adm, "healthy", 1, nil)
	createTopic(t, adm, "victim", 1, nil)

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.DefaultProduceTopic("healthy"),
		kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var produced, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	// Everything acknowledged, to either topic, must read back at the end; nothing else may.
	h := checker.New(checker.Options{Idempotent: true})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second) // every wait has a deadline
			res := cl.ProduceSync(pctx, &kgo.Record{Value: []byte(fmt.Sprintf("still here %d", i))})
			pcancel()
			if err := res.FirstErr(); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			h.Acked(checker.FromKgo(res[0].Record))
			produced.Add(1)
		}
	}()

	addr := c.Addr(1)
	cases := []struct {
		name string
		run  func(t *testing.T, rc *rawConn)
	}{
		{"truncated frame", func(t *testing.T, rc *rawConn) {
			full := rc.frame(kmsg.NewPtrMetadataRequest(), 9)
			rc.write(full[:len(full)/2])
			_ = rc.conn.(interface{ CloseWrite() error }).CloseWrite()
			rc.expectClosed("truncated frame")
		}},
		{"negative size", func(t *testing.T, rc *rawConn) {
			rc.write([]byte{0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0})
			rc.expectClosed("negative size")
		}},
		{"2 GiB size", func(t *testing.T, rc *rawConn) {
			rc.write([]byte{0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 9})
			rc.expectClosed("2 GiB size")
		}},
		{"wrong CRC", func(t *testing.T, rc *rawConn) {
			batch := validBatch([]byte("corrupt me"))
			batch[len(batch)-1] ^= 0xff
			rc.write(rc.frame(produceRequest("victim", batch), 7))
			body, err := rc.readFrame(15 * time.Second)
			if err != nil {
				t.Fatalf("no produce response for a corrupt batch: %v", err)
			}
			resp := kmsg.NewPtrProduceResponse()
			resp.SetVersion(7)
			if err := resp.ReadFrom(body[4:]); err != nil {
				t.Fatalf("decode produce response: %v", err)
			}
			got := resp.Topics[0].Partitions[0].ErrorCode
			if got != kerr.CorruptMessage.Code {
				t.Fatalf("error code %d (%v), want CORRUPT_MESSAGE", got, kerr.ErrorForCode(got))
			}
			// The connection stays usable: a good batch on the same connection is accepted.
			rc.write(rc.frame(produceRequest("victim", validBatch([]byte("fine"))), 7))
			body, err = rc.readFrame(15 * time.Second)
			if err != nil {
				t.Fatalf("second produce on the same connection: %v", err)
			}
			resp = kmsg.NewPtrProduceResponse()
			resp.SetVersion(7)
			if err := resp.ReadFrom(body[4:]); err != nil {
				t.Fatal(err)
			}
			if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
				t.Fatalf("good batch after a bad one: %v", kerr.ErrorForCode(code))
			}
			// The corrupt batch must not be stored; the good one must, at the offset given.
			h.Acked(checker.Record{Topic: "victim", Partition: 0, Offset: resp.Topics[0].Partitions[0].BaseOffset,
				Key: []byte("k"), Value: []byte("fine")})
		}},
		{"unknown API key", func(t *testing.T, rc *rawConn) {
			f := rc.frame(kmsg.NewPtrMetadataRequest(), 1)
			binary.BigEndian.PutUint16(f[4:6], 999)
			rc.write(f)
			rc.expectClosed("unknown API key")
		}},
		{"unsupported version", func(t *testing.T, rc *rawConn) {
			f := rc.frame(produceRequest("victim", validBatch([]byte("x"))), 7)
			binary.BigEndian.PutUint16(f[6:8], 99)
			rc.write(f)
			rc.expectClosed("unsupported Produce version")
		}},
		{"ApiVersions too new", func(t *testing.T, rc *rawConn) {
			f := rc.frame(kmsg.NewPtrApiVersionsRequest(), 3)
			binary.BigEndian.PutUint16(f[6:8], 42)
			rc.write(f)
			body, err := rc.readFrame(10 * time.Second)
			if err != nil {
				t.Fatalf("ApiVersions v42: want an UNSUPPORTED_VERSION answer, got %v", err)
			}
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.SetVersion(0)
			if err := resp.ReadFrom(body[4:]); err != nil {
				t.Fatalf("decode v0 ApiVersions response: %v", err)
			}
			if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) == 0 {
				t.Fatalf("ApiVersions v42: error %d with %d keys, want UNSUPPORTED_VERSION with our ranges", resp.ErrorCode, len(resp.ApiKeys))
			}
		}},
		{"random bytes", func(t *testing.T, rc *rawConn) {
			junk := make([]byte, 4096)
			_, _ = rand.Read(junk)
			binary.BigEndian.PutUint32(junk[:4], 4092) // a plausible size so the body is parsed
			rc.write(junk)
			rc.expectClosed("random bytes")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, dialRaw(t, addr)) })
		if failed.Load() > 0 {
			t.Fatalf("healthy producer failed after %q: %v", tc.name, firstErr.Load())
		}
	}
	before := produced.Load()
	// The healthy producer must still be making progress after all of it.
	deadline := time.Now().Add(20 * time.Second)
	for produced.Load() < before+10 && failed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling an observable counter with a deadline
	}
	cancel()
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("healthy producer saw an error: %v", firstErr.Load())
	}
	if produced.Load() < before+10 {
		t.Fatalf("healthy producer stalled: %d records before the end, %d after", before, produced.Load())
	}
	// The healthy producer's records all stored, once, in order, intact; of the bad input
	// only the good batch sent after the corrupt one.
	rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer rcancel()
	read, err := checker.ReadAll(rctx, c.Bootstrap(), "healthy", "victim")
	if err != nil {
		t.Fatal(err)
	}
	if rep := h.Check(read); rep.Err() != nil {
		t.Fatal(rep.Err())
	} else if int64(rep.Read) != produced.Load()+1 {
		t.Fatalf("read back %d records, want the %d acknowledged", rep.Read, produced.Load()+1)
	}
}
