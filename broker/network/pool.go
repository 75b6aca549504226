package network

import (
	"context"
	"sync"
	"sync/atomic"
)

// memoryPool is queued.max.request.bytes: the bytes of request frames the broker holds at once,
// from the moment a frame's size is read until its handler has returned. A reader reserves a
// frame's full size before allocating anything for it; a frame that does not fit waits — its
// reader stops reading that socket, pushing back on the client through TCP — and nothing is
// allocated meanwhile. Waiters are served in arrival order, so a large frame is not starved by a
// stream of small ones.
//
// Kafka's own pool (SimpleMemoryPool, non-strict) lets one allocation overshoot the capacity;
// this one never does: used <= capacity always holds, so the request memory a test or an
// operator reasons about is the capacity, plus what the garbage collector has not yet reclaimed.
//
// mu guards used and waiters; it is a leaf lock (docs/locking.md) held for bookkeeping only.
type memoryPool struct {
	capacity int64 // <= 0: unbounded (Kafka's -1); used is still counted for the metrics
	m        *metrics

	mu      sync.Mutex
	used    int64
	waiters []*poolWaiter // FIFO
}

type poolWaiter struct {
	n     int64
	ready chan struct{} // closed once n bytes were reserved for this waiter
}

func newMemoryPool(capacity int64, m *metrics) *memoryPool {
	p := &memoryPool{capacity: capacity, m: m}
	m.poolCapacity(capacity)
	return p
}

// acquire reserves n bytes, waiting while they do not fit or others wait before it. It returns
// ctx's error if ctx ends first (nothing is then reserved). A frame larger than the whole pool —
// impossible once the options are validated — waits for an empty pool.
func (p *memoryPool) acquire(ctx context.Context, n int64) error {
	if n > p.capacity && p.capacity > 0 {
		n = p.capacity
	}
	p.mu.Lock()
	if p.capacity <= 0 || (len(p.waiters) == 0 && p.used+n <= p.capacity) {
		p.used += n
		p.m.poolUsed(p.used)
		p.mu.Unlock()
		return nil
	}
	w := &poolWaiter{n: n, ready: make(chan struct{})}
	p.waiters = append(p.waiters, w)
	p.m.poolWaiting(len(p.waiters), true)
	p.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-w.ready: // granted while we were giving up: hand it back
		p.used -= w.n
		p.m.poolUsed(p.used)
		p.grantLocked()
		return ctx.Err()
	default:
	}
	for i, x := range p.waiters {
		if x == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			break
		}
	}
	p.m.poolWaiting(len(p.waiters), false)
	p.grantLocked() // the head may have changed
	return ctx.Err()
}

// release returns n bytes reserved by acquire (the same n: acquire's clamp applies again).
func (p *memoryPool) release(n int64) {
	if n > p.capacity && p.capacity > 0 {
		n = p.capacity
	}
	p.mu.Lock()
	p.used -= n
	p.grantLocked()
	p.m.poolUsed(p.used)
	p.mu.Unlock()
}

// grantLocked serves waiters in order while the head fits.
func (p *memoryPool) grantLocked() {
	granted := false
	for len(p.waiters) > 0 && p.used+p.waiters[0].n <= p.capacity {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.used += w.n
		close(w.ready)
		granted = true
	}
	if granted {
		p.m.poolWaiting(len(p.waiters), false)
		p.m.poolUsed(p.used)
	}
}

// inUse is the bytes reserved now (tests and metrics).
func (p *memoryPool) inUse() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}

// requestQueue is queued.max.requests: how many requests may be between "read and decoded" and
// "handler returned or parked" at once, broker-wide. Kafka's request channel holds requests
// until an I/O thread takes them, and a request parked in purgatory has left it; here each
// request runs in its own goroutine, so a request occupies the queue while its handler runs,
// until it returns or calls Parked before a long wait (long poll, acks=all). At the bound the
// reader that wants to dispatch waits, as Kafka's network threads block on a full channel.
type requestQueue struct {
	slots chan struct{}
	m     *metrics
}

func newRequestQueue(n int, m *metrics) *requestQueue {
	m.queueCapacity(n)
	return &requestQueue{slots: make(chan struct{}, n), m: m}
}

// enter takes a slot, waiting while the queue is full; false if ctx ended first.
func (q *requestQueue) enter(ctx context.Context) bool {
	select {
	case q.slots <- struct{}{}:
		q.m.queueSize(len(q.slots))
		return true
	default:
	}
	q.m.queueWait()
	select {
	case q.slots <- struct{}{}:
		q.m.queueSize(len(q.slots))
		return true
	case <-ctx.Done():
		return false
	}
}

func (q *requestQueue) leave() {
	<-q.slots
	q.m.queueSize(len(q.slots))
}

// queueTicket is one request's place in the request queue; leave runs at most once, from
// Parked or when the handler returns, whichever comes first.
type queueTicket struct {
	q    *requestQueue
	once sync.Once
	// handoff is set for a request handled on the reader (Options.Inline): the first Parked
	// starts a new reader with it, so the connection is read on while this request waits.
	handoff   func()
	handedOff atomic.Bool
}

func (t *queueTicket) leave() { t.once.Do(t.q.leave) }

type ticketKey struct{}

// Parked tells the network that the request handled under ctx is about to wait for an event
// rather than work — a long-poll fetch waiting for data, an acks=all produce waiting for
// replicas, an admin request waiting for the controller — so it leaves the request queue
// (queued.max.requests) the way a Kafka request parked in purgatory does. Calling it more than
// once, or with a context the network did not give, does nothing.
//
// A request handled on the reader (Options.Inline) hands the reading of its connection on to a
// new reader here, so that whatever it waits for does not stop the connection's later requests.
func Parked(ctx context.Context) {
	if t, ok := ctx.Value(ticketKey{}).(*queueTicket); ok {
		t.leave()
		if t.handoff != nil && t.handedOff.CompareAndSwap(false, true) {
			t.handoff()
		}
	}
}
