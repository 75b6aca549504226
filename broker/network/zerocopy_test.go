package network

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fileRange is a FileRange over a test file; intact is what Intact answers.
type fileRange struct {
	f      *os.File
	off, n int64
	intact *atomic.Bool
}

func (r fileRange) Range() (*os.File, io.ReaderAt, int64, int64) { return r.f, r.f, r.off, r.n }
func (r fileRange) Intact() bool                                 { return r.intact == nil || r.intact.Load() }

// zcResponse is a Fetch-keyed ZeroCopy response whose body is: parts in order, each either fixed
// bytes or a file range.
type zcResponse struct {
	*kmsg.FetchResponse
	parts    []any // []byte or fileRange
	released *atomic.Int32
	flexible bool // the version the test built it at is flexible (the server sets Version)
}

func (r *zcResponse) AppendZeroCopy(b []byte, secs []Section) ([]byte, []Section) {
	for _, p := range r.parts {
		switch p := p.(type) {
		case []byte:
			b = append(b, p...)
		case fileRange:
			secs = append(secs, Section{At: len(b), Src: p})
		}
	}
	return b, secs
}

func (r *zcResponse) Release() { r.released.Add(1) }

// body is what the client must receive after the response header.
func (r *zcResponse) body(t *testing.T) []byte {
	var out []byte
	for _, p := range r.parts {
		switch p := p.(type) {
		case []byte:
			out = append(out, p...)
		case fileRange:
			buf := make([]byte, p.n)
			if _, err := p.f.ReadAt(buf, p.off); err != nil {
				t.Fatal(err)
			}
			out = append(out, buf...)
		}
	}
	return out
}

func testFile(t *testing.T, size int) *os.File {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	path := filepath.Join(t.TempDir(), "seg.log")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func fetchAt(version int16) *kmsg.FetchRequest {
	r := kmsg.NewPtrFetchRequest()
	r.SetVersion(version)
	return r
}

// waitUntil polls cond until it holds or 5 s pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestZeroCopyResponsesInOrder: file ranges go out with sendfile in request order with the
// connection's other responses, whatever order the handlers finish in; the frames hold exactly
// the fixed bytes and the file bytes (a frame that ends with file bytes included, v11: no
// trailing tags), and every response is released once.
func TestZeroCopyResponsesInOrder(t *testing.T) {
	f := testFile(t, 3<<20)
	var released atomic.Int32
	slow := make(chan struct{})
	responses := map[int32]*zcResponse{}
	mk := func(version int16, parts ...any) *zcResponse {
		fr := kmsg.NewPtrFetchResponse()
		fr.SetVersion(version)
		return &zcResponse{FetchResponse: fr, parts: parts, released: &released, flexible: version >= 12}
	}
	responses[1] = mk(12, []byte("head"), fileRange{f: f, off: 100, n: 2 << 20}, []byte("mid"), fileRange{f: f, off: 5, n: 10}, []byte{0, 0, 0})
	responses[3] = mk(11, []byte("v11"), fileRange{f: f, off: 7, n: 1 << 20}) // ends with file bytes
	responses[4] = mk(11, []byte("x"), fileRange{f: f, off: 0, n: 1})         // a one-byte range at the end
	var finished atomic.Int32
	s := startServer(t, Options{}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		if r.CorrelationID == 1 {
			<-slow // finishes after the requests behind it
		} else {
			defer finished.Add(1)
		}
		if r.Key != 1 {
			return r.Body.ResponseKind(), nil
		}
		return responses[r.CorrelationID], nil
	})
	c := dial(t, s.addr)
	c.send(fetchAt(12), 12)   // corr 1
	c.send(metadataReq(), 12) // corr 2
	c.send(fetchAt(11), 11)   // corr 3
	c.send(fetchAt(11), 11)   // corr 4
	time.Sleep(0)             // the later handlers may finish first; nothing waits for that
	close(slow)
	for corr := int32(1); corr <= 4; corr++ {
		got, body, err := c.readRaw(10 * time.Second)
		if err != nil || got != corr {
			t.Fatalf("response %d: corr %d, %v", corr, got, err)
		}
		zr, ok := responses[corr]
		if !ok {
			continue // metadata
		}
		if zr.flexible {
			if body[0] != 0 {
				t.Fatalf("response %d: no header tag buffer", corr)
			}
			body = body[1:]
		}
		if want := zr.body(t); !bytes.Equal(body, want) {
			t.Fatalf("response %d: %d bytes differ from the %d expected", corr, len(body), len(want))
		}
	}
	waitUntil(t, "three releases", func() bool { return released.Load() == 3 })
}

// TestZeroCopyNotIntactClosesBeforeTheLastByte: a range truncated while its response is being
// sent closes the connection before the frame is complete, so the client never takes other
// bytes for the response; the response is still released.
func TestZeroCopyNotIntactClosesBeforeTheLastByte(t *testing.T) {
	f := testFile(t, 1<<16)
	var released atomic.Int32
	for _, version := range []int16{11, 12} { // the frame ends with file bytes, or with tags
		intact := &atomic.Bool{}
		intact.Store(true)
		rng := fileRange{f: f, off: 0, n: 1 << 15, intact: intact}
		s := startServer(t, Options{}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
			fr := kmsg.NewPtrFetchResponse()
			fr.SetVersion(r.Version)
			parts := []any{[]byte("abc"), rng}
			if r.Version >= 12 {
				parts = append(parts, []byte{0})
			}
			intact.Store(false) // as if truncated after encoding, before the send
			return &zcResponse{FetchResponse: fr, parts: parts, released: &released}, nil
		})
		c := dial(t, s.addr)
		c.send(fetchAt(version), version)
		if _, _, err := c.readRaw(5 * time.Second); err == nil || !(isClosedErr(err) || err == io.ErrUnexpectedEOF) {
			t.Fatalf("v%d: read a whole response (%v), want the connection closed inside it", version, err)
		}
	}
	waitUntil(t, "two releases", func() bool { return released.Load() == 2 })
}

// TestZeroCopyReleasedWhenNeverWritten: a response filled after its connection closed (its
// writer gone) is released by its filler.
func TestZeroCopyReleasedWhenNeverWritten(t *testing.T) {
	f := testFile(t, 4096)
	var released atomic.Int32
	entered := make(chan struct{})
	s := startServer(t, Options{}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		close(entered)
		<-ctx.Done() // the connection closes while the handler works
		fr := kmsg.NewPtrFetchResponse()
		fr.SetVersion(r.Version)
		return &zcResponse{FetchResponse: fr, parts: []any{fileRange{f: f, off: 0, n: 10}}, released: &released}, nil
	})
	c := dial(t, s.addr)
	c.send(fetchAt(12), 12)
	waitFor(t, entered, "the handler")
	c.conn.Close()
	waitUntil(t, "the release", func() bool { return released.Load() == 1 })
}

// TestSendRangeCopies: without a TCP socket or an *os.File the range is copied through the
// bounded buffer, byte for byte.
func TestSendRangeCopies(t *testing.T) {
	f := testFile(t, 100<<10)
	for _, withFile := range []bool{true, false} {
		a, b := net.Pipe()
		rng := fileRange{f: f, off: 33, n: 70 << 10}
		var src FileRange = rng
		if !withFile {
			src = readerOnly{rng}
		}
		done := make(chan []byte)
		go func() { got, _ := io.ReadAll(b); done <- got }()
		n, err := sendRange(a, src)
		a.Close()
		got := <-done
		want := make([]byte, rng.n)
		_, _ = f.ReadAt(want, rng.off)
		if err != nil || n != rng.n || !bytes.Equal(got, want) {
			t.Fatalf("file %v: sent %d, %v; %d bytes arrived", withFile, n, err, len(got))
		}
	}
}

// readerOnly is a FileRange whose file is not an *os.File.
type readerOnly struct{ fileRange }

func (r readerOnly) Range() (*os.File, io.ReaderAt, int64, int64) {
	_, ra, off, n := r.fileRange.Range()
	return nil, ra, off, n
}

// TestRecycledFramesStayPutWhileHandled: with Produce frames pooled, many concurrent requests of
// different content each see exactly their own bytes for as long as their handler runs (a frame
// goes back to the pool only after its handler returned), and every one is answered.
func TestRecycledFramesStayPutWhileHandled(t *testing.T) {
	s := startServer(t, Options{Recycled: []int16{0}}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		req := r.Body.(*kmsg.ProduceRequest)
		p := &req.Topics[0].Partitions[0]
		want := p.Records[0]
		for round := 0; round < 20; round++ {
			for i, c := range p.Records {
				if c != want {
					return nil, fmt.Errorf("byte %d of the records changed under the handler: %d, want %d", i, c, want)
				}
			}
			runtime.Gosched() // let other connections' frames come and go meanwhile
		}
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = req.Topics[0].Topic
		rp := kmsg.NewProduceResponseTopicPartition()
		rp.BaseOffset = int64(want)
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return resp, nil
	})
	errs := make(chan error, 4)
	for conn := 0; conn < 4; conn++ {
		go func(conn int) {
			c := dial(t, s.addr)
			for i := 0; i < 50; i++ {
				fill := byte(conn*50 + i)
				req := kmsg.NewPtrProduceRequest()
				req.Acks = 1
				pp := kmsg.NewProduceRequestTopicPartition()
				pp.Records = bytes.Repeat([]byte{fill}, 3000+i*97) // several size classes
				req.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{pp}}}
				resp, err := c.roundTrip(req, 9)
				if err != nil {
					errs <- fmt.Errorf("conn %d request %d: %w", conn, i, err)
					return
				}
				if got := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].BaseOffset; got != int64(fill) {
					errs <- fmt.Errorf("conn %d request %d: answered for content %d, want %d", conn, i, got, fill)
					return
				}
			}
			errs <- nil
		}(conn)
	}
	for i := 0; i < 4; i++ {
		if err := waitFor(t, errs, "a connection's requests"); err != nil {
			t.Fatal(err)
		}
	}
}
