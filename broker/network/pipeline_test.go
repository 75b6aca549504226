package network

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestPipeliningKeepsOrder: three requests in one write; the first is held in its handler until
// the test releases it. The 2nd and 3rd must be handled meanwhile (so a slow request does not
// block later ones) and the responses must still come back 1, 2, 3.
func TestPipeliningKeepsOrder(t *testing.T) {
	release := make(chan struct{})
	handled := make(chan int32, 3)
	srv := startServer(t, Options{}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		if r.CorrelationID == 1 {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		handled <- r.CorrelationID
		resp := kmsg.NewPtrMetadataResponse()
		resp.ClusterID = kmsg.StringPtr(fmt.Sprintf("answer-%d", r.CorrelationID))
		return resp, nil
	})
	c := dial(t, srv.addr)
	var all []byte
	versions := []int16{1, 9, 12} // non-flexible and flexible headers mixed on one connection
	for _, v := range versions {
		f, _ := c.frame(metadataReq(), v)
		all = append(all, f...)
	}
	if err := c.write(all); err != nil {
		t.Fatal(err)
	}
	// 2 and 3 are handled while 1 is still blocked: 1 cannot finish before release is closed.
	got := map[int32]bool{waitFor(t, handled, "2nd handler"): true, waitFor(t, handled, "3rd handler"): true}
	if !got[2] || !got[3] {
		t.Fatalf("handled before the first finished: %v, want 2 and 3", got)
	}
	close(release)
	if first := waitFor(t, handled, "1st handler"); first != 1 {
		t.Fatalf("last handled %d, want 1", first)
	}
	for i, v := range versions {
		req := metadataReq()
		req.SetVersion(v)
		corr, resp, err := c.read(req)
		if err != nil {
			t.Fatalf("response %d: %v", i+1, err)
		}
		if corr != int32(i+1) {
			t.Fatalf("response %d has correlation id %d", i+1, corr)
		}
		if v >= 2 { // ClusterID exists from Metadata v2
			if id := resp.(*kmsg.MetadataResponse).ClusterID; id == nil || *id != fmt.Sprintf("answer-%d", i+1) {
				t.Fatalf("response %d carries cluster id %v", i+1, id)
			}
		}
	}
}

// TestNilResponseSendsNothing: an acks=0 produce gets no response, and the request after it gets
// its own response next, in order.
func TestNilResponseSendsNothing(t *testing.T) {
	var produced atomic.Int32
	srv := startServer(t, Options{}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		if p, ok := r.Body.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
			produced.Add(1)
			return nil, nil
		}
		return r.Body.ResponseKind(), nil
	})
	c := dial(t, srv.addr)
	prod := kmsg.NewPtrProduceRequest()
	prod.Acks = 0
	for _, v := range []int16{7, 9} { // classic and flexible produce
		c.send(prod, v)
		meta := metadataReq()
		want := c.send(meta, 4)
		corr, _, err := c.read(meta)
		if err != nil {
			t.Fatal(err)
		}
		if corr != want {
			t.Fatalf("produce v%d acks=0: next response has correlation id %d, want %d (the metadata)", v, corr, want)
		}
	}
	if n := produced.Load(); n != 2 {
		t.Fatalf("handler saw %d acks=0 produces, want 2", n)
	}
}

// TestHandlerErrorClosesAfterEarlierResponses: request 1 (slow) succeeds, request 2 fails at
// once; the client still gets response 1, then the connection closes.
func TestHandlerErrorClosesAfterEarlierResponses(t *testing.T) {
	release := make(chan struct{})
	failed := make(chan struct{})
	srv := startServer(t, Options{}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		switch r.CorrelationID {
		case 1:
			<-release
			return r.Body.ResponseKind(), nil
		case 2:
			close(failed)
			return nil, errors.New("boom")
		}
		return r.Body.ResponseKind(), nil
	})
	c := dial(t, srv.addr)
	c.send(metadataReq(), 1)
	c.send(metadataReq(), 1)
	waitFor(t, failed, "failing handler")
	close(release)
	req := metadataReq()
	req.SetVersion(1)
	corr, _, err := c.read(req)
	if err != nil || corr != 1 {
		t.Fatalf("first response: corr %d, %v", corr, err)
	}
	c.expectClosed("after handler error")
}

// TestWrongResponseKindCloses: a handler bug (answering with another API's response) closes the
// connection instead of sending bytes the client would misparse.
func TestWrongResponseKindCloses(t *testing.T) {
	srv := startServer(t, Options{}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		return kmsg.NewPtrFetchResponse(), nil
	})
	c := dial(t, srv.addr)
	c.send(metadataReq(), 1)
	c.expectClosed("wrong response kind")
}

// TestHandlerPanicClosesConnection: a panicking handler costs its connection, not the broker.
func TestHandlerPanicClosesConnection(t *testing.T) {
	srv := startServer(t, Options{}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		if r.ClientID == "net-test" && r.CorrelationID == 1 {
			panic("handler bug")
		}
		return r.Body.ResponseKind(), nil
	})
	c := dial(t, srv.addr)
	c.send(metadataReq(), 1)
	c.expectClosed("handler panic")
	c2 := dial(t, srv.addr)
	c2.corr = 10
	if _, err := c2.roundTrip(metadataReq(), 1); err != nil {
		t.Fatalf("server after a handler panic: %v", err)
	}
}

// TestBackpressure: with MaxInFlightPerConn 2, only two handlers run at once per connection; the
// rest wait unread until slots free, and every response still arrives in order.
func TestBackpressure(t *testing.T) {
	const limit, total = 2, 6
	release := make(chan struct{})
	started := make(chan int32, total)
	var running, peak atomic.Int32
	srv := startServer(t, Options{MaxInFlightPerConn: limit}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		started <- r.CorrelationID
		<-release
		running.Add(-1)
		return r.Body.ResponseKind(), nil
	})
	c := dial(t, srv.addr)
	var all []byte
	for i := 0; i < total; i++ {
		f, _ := c.frame(metadataReq(), 1)
		all = append(all, f...)
	}
	if err := c.write(all); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < limit; i++ {
		waitFor(t, started, "handler start")
	}
	// Absence check: no third handler may start while the first two hold their slots.
	select {
	case id := <-started:
		t.Fatalf("request %d started with %d already in flight (limit %d)", id, limit, limit)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	req := metadataReq()
	req.SetVersion(1)
	for i := int32(1); i <= total; i++ {
		corr, _, err := c.read(req)
		if err != nil || corr != i {
			t.Fatalf("response %d: corr %d, %v", i, corr, err)
		}
	}
	if p := peak.Load(); p > limit {
		t.Fatalf("%d handlers ran at once, limit %d", p, limit)
	}
}

// TestFlexibleHeaderTagsSkipped: a request header v2 carrying tagged fields is parsed (tags
// skipped), the request's client id reaches the handler, and a flexible response carries the
// header tag buffer.
func TestFlexibleHeaderTagsSkipped(t *testing.T) {
	seen := make(chan *Request, 1)
	srv := startServer(t, Options{}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		seen <- r
		return r.Body.ResponseKind(), nil
	})
	c := dial(t, srv.addr)
	req := metadataReq()
	req.SetVersion(11)
	topic := kmsg.NewMetadataRequestTopic()
	topic.Topic = kmsg.StringPtr("tagged")
	req.Topics = append(req.Topics, topic)
	hdr := []byte{0, 3, 0, 11, 0, 0, 0, 42, 0, 4, 'a', 'b', 'c', 'd'}
	hdr = append(hdr, 2, 7, 3, 'x', 'y', 'z', 0x81, 0x01, 0) // two tags: 7 (3 bytes), 129 (empty)
	body := req.AppendTo(hdr)
	frame := append([]byte{0, 0, 0, byte(len(body))}, body...)
	if err := c.write(frame); err != nil {
		t.Fatal(err)
	}
	r := waitFor(t, seen, "handler")
	mr := r.Body.(*kmsg.MetadataRequest)
	if r.ClientID != "abcd" || r.CorrelationID != 42 || r.Version != 11 || len(mr.Topics) != 1 || *mr.Topics[0].Topic != "tagged" {
		t.Fatalf("handler got client %q corr %d v%d topics %+v", r.ClientID, r.CorrelationID, r.Version, mr.Topics)
	}
	if r.Listener != "PLAINTEXT" || r.RemoteAddr.String() != c.conn.LocalAddr().String() || r.Received.IsZero() {
		t.Fatalf("request context: listener %q remote %v received %v", r.Listener, r.RemoteAddr, r.Received)
	}
	corr, _, err := c.read(req)
	if err != nil || corr != 42 {
		t.Fatalf("response: corr %d, %v", corr, err)
	}
}

// TestSeveralListeners: every named listener accepts and tags requests with its name.
func TestSeveralListeners(t *testing.T) {
	seen := make(chan string, 2)
	srv := startServer(t, Options{Listeners: []ListenerSpec{
		{Name: "PLAINTEXT", Addr: "127.0.0.1:0"}, {Name: "INTERNAL", Addr: "127.0.0.1:0"},
	}}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		seen <- r.Listener
		return r.Body.ResponseKind(), nil
	})
	for _, name := range []string{"PLAINTEXT", "INTERNAL"} {
		addr := srv.Addr(name)
		if addr == nil {
			t.Fatalf("no address for listener %s", name)
		}
		if _, err := dial(t, addr.String()).roundTrip(metadataReq(), 1); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := waitFor(t, seen, "handler"); got != name {
			t.Fatalf("request on %s tagged %q", name, got)
		}
	}
	if srv.Addr("NOPE") != nil {
		t.Fatal("Addr of an unknown listener is not nil")
	}
}
