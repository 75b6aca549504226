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
	close(gate)
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
