package network

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestProduceRequestsHandledInArrivalOrder: Produce requests pipelined on one connection reach
// the handler one after another in the order they were sent — the first one is slow, and the
// second must not overtake it (an idempotent producer's batches would be refused out of order)
// — while a Metadata request sent between them is not held up.
func TestProduceRequestsHandledInArrivalOrder(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var order []int32
	metadataDone := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, r *Request) (kmsg.Response, error) {
		switch body := r.Body.(type) {
		case *kmsg.ProduceRequest:
			if body.TimeoutMillis == 1 { // the first, slow one
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
			mu.Lock()
			order = append(order, body.TimeoutMillis)
			mu.Unlock()
			return kmsg.NewPtrProduceResponse(), nil
		case *kmsg.MetadataRequest:
			close(metadataDone)
			return kmsg.NewPtrMetadataResponse(), nil
		}
		return nil, nil
	})
	srv := NewServer(Options{Listeners: []ListenerSpec{{Name: "PLAINTEXT", Addr: "127.0.0.1:0"}},
		Served: []APIRange{{Key: 0, Min: 3, Max: 9}, {Key: 3, Min: 0, Max: 12}}}, h)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := dial(t, srv.Addr("PLAINTEXT").String())
	for _, timeout := range []int32{1, 2} {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = 1, timeout
		c.send(req, 7)
		if timeout == 1 {
			c.send(kmsg.NewPtrMetadataRequest(), 9)
		}
	}
	select {
	case <-metadataDone:
	case <-time.After(5 * time.Second):
		t.Fatal("metadata was held up behind a slow produce")
	}
	mu.Lock()
	early := len(order)
	mu.Unlock()
	if early != 0 {
		t.Fatalf("a produce was handled while the first one was still running: %v", order)
	}
	close(release)
	for i := 0; i < 3; i++ {
		if _, _, err := c.readRaw(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 2 || order[0] != 1 || order[1] != 2 {
		t.Fatalf("produce handling order %v, want [1 2]", order)
	}
}

// TestReleaseLetsTheNextOrderedRequestStart: a handler that calls Release after its ordered part
// (Produce: the appends) lets the connection's next Produce run while it still waits
// (replication); the responses still go out in request order.
func TestReleaseLetsTheNextOrderedRequestStart(t *testing.T) {
	firstWaits := make(chan struct{})
	secondRan := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, r *Request) (kmsg.Response, error) {
		body := r.Body.(*kmsg.ProduceRequest)
		resp := kmsg.NewPtrProduceResponse()
		resp.ThrottleMillis = body.TimeoutMillis // tells the responses apart
		if body.TimeoutMillis == 1 {
			r.Release() // ordered part done
			close(firstWaits)
			select { // "replication": wait until the second request has run
			case <-secondRan:
			case <-ctx.Done():
			}
			return resp, nil
		}
		close(secondRan)
		return resp, nil
	})
	srv := NewServer(Options{Listeners: []ListenerSpec{{Name: "PLAINTEXT", Addr: "127.0.0.1:0"}},
		Served: []APIRange{{Key: 0, Min: 3, Max: 9}}}, h)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := dial(t, srv.Addr("PLAINTEXT").String())
	for _, timeout := range []int32{1, 2} {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = 1, timeout
		c.send(req, 7)
	}
	select {
	case <-secondRan:
	case <-time.After(10 * time.Second):
		t.Fatal("the second produce never ran while the first, released, was waiting")
	}
	for _, want := range []int32{1, 2} {
		_, body, err := c.readRaw(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		resp := kmsg.NewPtrProduceResponse()
		resp.Version = 7
		if err := resp.ReadFrom(body); err != nil {
			t.Fatal(err)
		}
		if resp.ThrottleMillis != want {
			t.Fatalf("response %d out of order (got the one for %d)", want, resp.ThrottleMillis)
		}
	}
	<-firstWaits
}
