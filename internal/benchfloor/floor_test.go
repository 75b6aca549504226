package benchfloor

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestProduceConsume: what franz-go writes through the floor it reads back, in order per
// partition, with the offsets the floor assigned — the benchmark would measure nothing otherwise.
func TestProduceConsume(t *testing.T) {
	s, err := New("127.0.0.1:0", t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, idempotent := range []bool{false, true} {
		topic := fmt.Sprintf("idempotent-%v", idempotent)
		opts := []kgo.Opt{kgo.SeedBrokers(s.Addr()), kgo.DefaultProduceTopic(topic)}
		if !idempotent {
			opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
		}
		prod, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		const n = 3000
		var recs []*kgo.Record
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{Key: []byte{byte(i % 7)}, Value: []byte(fmt.Sprint(i))})
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		prod.Close()
		cons, err := kgo.NewClient(kgo.SeedBrokers(s.Addr()), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxPartitionBytes(4096))
		if err != nil {
			t.Fatal(err)
		}
		next := map[int32]int64{}
		got := 0
		for got < n {
			f := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("%s: read %d of %d", topic, got, n)
			}
			f.EachError(func(_ string, _ int32, err error) { t.Fatal(err) })
			f.EachRecord(func(r *kgo.Record) {
				if r.Offset != next[r.Partition] {
					t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
				}
				next[r.Partition]++
				got++
			})
		}
		cons.Close()
	}
}

// FuzzHandle: any frame the floor reads either gets an answer or an error that closes the
// connection; none crashes it.
func FuzzHandle(f *testing.F) {
	s, err := New("127.0.0.1:0", f.TempDir(), 2)
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	s.maxWait = 0 // a fetch asking to wait is answered at once
	for _, req := range []kmsg.Request{kmsg.NewPtrApiVersionsRequest(), kmsg.NewPtrMetadataRequest(),
		kmsg.NewPtrProduceRequest(), kmsg.NewPtrFetchRequest(), kmsg.NewPtrListOffsetsRequest()} {
		req.SetVersion(req.MaxVersion())
		f.Add(frameOf(req))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		go io.Copy(io.Discard, b)
		cn := &conn{s: s, c: a, files: map[*partition]*os.File{}}
		defer func() {
			for _, f := range cn.files {
				f.Close()
			}
		}()
		_ = cn.handle(append([]byte(nil), frame...))
	})
}

// frameOf is req as a client frames it, without the size prefix (header v1, or v2 when flexible).
func frameOf(req kmsg.Request) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint16(b, 0xffff) // null client id
	if req.IsFlexible() {
		b = append(b, 0)
	}
	return req.AppendTo(b)
}
