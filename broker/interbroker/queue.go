package interbroker

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Queue sends requests to one broker in the order they were queued, one at a time, retrying
// each (reconnecting, with exponential backoff from 50 ms to 2 s) until it is answered or the
// queue is stopped — Kafka's ControllerChannelManager: the controller's requests must reach a
// live broker in order, and a dead broker's queue is stopped by the controller.
type Queue struct {
	conn *Conn

	mu      sync.Mutex // guards pending and stopped; cond signals the sender
	cond    *sync.Cond
	pending []queued
	seq     uint64
	stopped bool

	ctx    context.Context // cancelled by Stop: ends retries and the round trip in progress
	cancel context.CancelFunc
	done   chan struct{} // closed when the sender goroutine has exited
}

type queued struct {
	seq uint64
	req kmsg.Request
	cb  func(kmsg.Response, error)
}

// NewQueue starts a queue (and its sender goroutine) to broker dest at addr.
func NewQueue(dest int32, addr string, o Options) *Queue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{conn: NewConn(dest, addr, o), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	q.cond = sync.NewCond(&q.mu)
	go q.run() // owned by q: Stop cancels and waits for it
	return q
}

// Send queues req; cb (may be nil) runs on the sender goroutine with the response, or with an
// error if the queue is stopped before req was answered.
func (q *Queue) Send(req kmsg.Request, cb func(kmsg.Response, error)) {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		if cb != nil {
			cb(nil, ErrClosed)
		}
		return
	}
	q.seq++
	q.pending = append(q.pending, queued{q.seq, req, cb})
	q.cond.Signal()
	q.mu.Unlock()
}

// Len is the number of requests not yet answered.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// Stop ends the sender: the request in progress is abandoned, queued ones are dropped (their
// callbacks get ErrClosed), the connection is closed. It returns once the goroutine exited.
func (q *Queue) Stop() {
	q.mu.Lock()
	q.stopped = true
	dropped := q.pending
	q.pending = nil
	q.cond.Broadcast()
	q.mu.Unlock()
	q.cancel()
	<-q.done
	q.conn.Close()
	for _, d := range dropped {
		if d.cb != nil {
			d.cb(nil, ErrClosed)
		}
	}
}

func (q *Queue) next() (queued, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.pending) == 0 && !q.stopped {
		q.cond.Wait()
	}
	if q.stopped {
		return queued{}, false
	}
	return q.pending[0], true
}

// pop removes the head, which the sender has just had answered, and reports whether it was
// still queued: if Stop took it first, Stop reports it and the sender must not.
func (q *Queue) pop(seq uint64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == 0 || q.pending[0].seq != seq {
		return false
	}
	q.pending[0] = queued{}
	q.pending = q.pending[1:]
	return true
}

func (q *Queue) run() {
	defer close(q.done)
	log := q.conn.o.Logger.WithField("to_broker", q.conn.dest)
	for {
		item, ok := q.next()
		if !ok {
			return
		}
		for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
			resp, err := q.conn.RoundTrip(q.ctx, item.req)
			if q.ctx.Err() != nil {
				return // stopped: Stop reports the abandoned request with the rest
			}
			if err == nil {
				if !q.pop(item.seq) {
					return
				}
				if item.cb != nil {
					item.cb(resp, nil)
				}
				break
			}
			log.WithError(err).Debug("request failed; retrying")
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-q.ctx.Done():
				t.Stop()
				return
			}
		}
	}
}
