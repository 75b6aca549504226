package network

import (
	"context"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestWorkersAreReusedAndBounded: sequential requests run on one worker, which keeps the stack it
// grew; a burst of concurrent requests starts more, of which at most maxIdleWorkers stay; Close
// ends them all.
func TestWorkersAreReusedAndBounded(t *testing.T) {
	const burst = maxIdleWorkers + 36
	var (
		mu      sync.Mutex
		started = make(chan struct{}, burst)
		gate    = make(chan struct{})
		hold    bool
	)
	srv := startServer(t, Options{MaxInFlightPerConn: burst}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		mu.Lock()
		h := hold
		mu.Unlock()
		if h {
			started <- struct{}{}
			<-gate
		}
		return r.Body.ResponseKind(), nil
	})
	w := srv.workers
	var gateOnce sync.Once
	release := func() { gateOnce.Do(func() { close(gate) }) }
	t.Cleanup(release) // before the server's Close (cleanups run last first), even on failure

	c := dial(t, srv.addr)
	for i := 0; i < 50; i++ {
		if _, err := c.roundTrip(metadataReq(), 1); err != nil {
			t.Fatal(err)
		}
	}
	// Each handler returned before the next request was sent, so its worker was idle for the
	// next one, or nearly: it counts itself idle after filling the slot, and a request that
	// arrives before it waits for work starts another worker. That race is rare; losing it half
	// the time would take a worker stalled for whole round trips.
	if n := w.started.Load(); n >= 25 {
		t.Fatalf("50 sequential requests started %d workers: they are not reused", n)
	}

	// burst handlers at once: every one needs a worker of its own.
	mu.Lock()
	hold = true
	mu.Unlock()
	for i := 0; i < burst; i++ {
		c.send(metadataReq(), 1)
	}
	for i := 0; i < burst; i++ {
		waitFor(t, started, "a held handler to start")
	}
	if n := w.started.Load(); n < burst {
		t.Fatalf("%d workers started for %d handlers running at once", n, burst)
	}
	release()
	for i := 0; i < burst; i++ {
		if _, _, err := c.read(metadataReq()); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.idle.Load(); n > maxIdleWorkers {
		t.Fatalf("%d idle workers, want at most %d", n, maxIdleWorkers)
	}

	// Close waits for every worker (Server.wg): idle ones leave on the server's context.
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if n := w.idle.Load(); n != 0 {
		t.Fatalf("%d workers still idle after Close", n)
	}
}

// TestInlineRequests: requests Options.Inline names are handled on the reader (no worker), and
// an inline request of an Ordered key behind an unfinished predecessor still waits for it.
func TestInlineRequests(t *testing.T) {
	produce := func(acks int16) *kmsg.ProduceRequest {
		r := kmsg.NewPtrProduceRequest()
		r.Acks, r.TimeoutMillis = acks, 1000
		r.SetVersion(9)
		return r
	}
	var mu sync.Mutex
	var order []int16
	held, gate, meta := make(chan struct{}, 1), make(chan struct{}), make(chan struct{}, 1)
	srv := startServer(t, Options{
		Ordered: []int16{0},
		Inline:  func(key int16, body kmsg.Request) bool { return key == 0 && body.(*kmsg.ProduceRequest).Acks != -1 },
	}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		p, ok := r.Body.(*kmsg.ProduceRequest)
		if !ok {
			meta <- struct{}{}
			return r.Body.ResponseKind(), nil
		}
		if p.Acks == -1 {
			held <- struct{}{}
			<-gate
		}
		mu.Lock()
		order = append(order, p.Acks)
		mu.Unlock()
		return r.Body.ResponseKind(), nil
	})
	var gateOnce sync.Once
	release := func() { gateOnce.Do(func() { close(gate) }) }
	t.Cleanup(release) // before the server's Close (cleanups run last first), even on failure
	c := dial(t, srv.addr)
	for i := 0; i < 20; i++ {
		if _, err := c.roundTrip(produce(1), 9); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.workers.started.Load(); n != 0 {
		t.Fatalf("20 inline requests started %d workers", n)
	}

	// acks=all (a worker, held before it is done), then acks=1: the second must not be handled
	// inline ahead of the first.
	c.send(produce(-1), 9)
	waitFor(t, held, "the acks=all produce to be handled")
	c.send(produce(1), 9)
	// The reader is free (the acks=1 request waits on a worker for its predecessor), so a
	// Metadata request is handled meanwhile; only then is the held one let go.
	c.send(metadataReq(), 1)
	waitFor(t, meta, "the Metadata request to be handled while the acks=all one is held")
	release()
	mr := metadataReq()
	mr.SetVersion(1)
	for i, want := range []kmsg.Request{produce(-1), produce(1), mr} {
		if _, _, err := c.read(want); err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if got := order[20:]; len(got) != 2 || got[0] != -1 || got[1] != 1 {
		t.Fatalf("handled in order %v after the first 20, want [-1 1]", got)
	}
}

// TestInlineRequestHandsReadingOnWhenParked: an inline request that parks (Parked) lets a new
// reader take the connection over, so the connection's next requests are handled while it
// waits, and its response still comes first.
func TestInlineRequestHandsReadingOnWhenParked(t *testing.T) {
	held, gate, meta := make(chan struct{}, 1), make(chan struct{}), make(chan struct{}, 1)
	srv := startServer(t, Options{
		Ordered: []int16{0},
		Inline:  func(key int16, _ kmsg.Request) bool { return key == 0 },
	}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		if _, ok := r.Body.(*kmsg.ProduceRequest); !ok {
			meta <- struct{}{}
			return r.Body.ResponseKind(), nil
		}
		Parked(ctx)
		held <- struct{}{}
		<-gate
		return r.Body.ResponseKind(), nil
	})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release) // before the server's Close (cleanups run last first), even on failure
	c := dial(t, srv.addr)
	p := kmsg.NewPtrProduceRequest()
	p.Acks, p.TimeoutMillis = -1, 1000
	c.send(p, 9)
	waitFor(t, held, "the produce to park")
	c.send(metadataReq(), 1)
	waitFor(t, meta, "the Metadata request to be handled while the produce waits")
	release()
	mr := metadataReq()
	mr.SetVersion(1)
	p.SetVersion(9)
	for i, want := range []kmsg.Request{p, mr} {
		if _, _, err := c.read(want); err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
	}
	if n := srv.workers.started.Load(); n != 1 {
		t.Fatalf("%d workers started, want 1 (the Metadata request's; the produce ran inline)", n)
	}
}
