package network

import "sync/atomic"

// maxIdleWorkers bounds the handler goroutines kept waiting for work. Each keeps the stack it
// grew (a Produce or Fetch handler's is tens of KiB), so 64 of them hold a few MiB at most; more
// requests at once than that start goroutines of their own, as before, which end afterwards.
const maxIdleWorkers = 64

// workers runs request handlers on goroutines that outlive one request. A goroutine started per
// request begins with a small stack and grows it, copying it each time, to the depth a handler
// needs: at 10 000 small requests a second that copying was ~6% of the broker's CPU. A worker
// grows its stack once and keeps it.
//
// Who owns what: a worker is counted in Server.wg from its start to its return; it returns when
// more than maxIdleWorkers would be idle, or when the server's context is cancelled (Close). A
// job is handed over only to a worker blocked in receive (an unbuffered channel), so a job never
// waits behind another one.
type workers struct {
	jobs    chan func()
	idle    atomic.Int32
	started atomic.Int64 // workers started so far (tests)
}

func newWorkers() *workers { return &workers{jobs: make(chan func())} }

// run hands job to an idle worker, or starts one for it.
func (s *Server) run(job func()) {
	select {
	case s.workers.jobs <- job:
	default:
		s.wg.Add(1)
		s.workers.started.Add(1)
		go s.work(job)
	}
}

// work runs jobs until it is not needed: more than maxIdleWorkers are idle, or the server closes.
func (s *Server) work(job func()) {
	defer s.wg.Done()
	w := s.workers
	for {
		job()
		job = nil // not kept alive while idle
		if w.idle.Add(1) > maxIdleWorkers {
			w.idle.Add(-1)
			return
		}
		select {
		case job = <-w.jobs:
			w.idle.Add(-1)
		case <-s.ctx.Done():
			w.idle.Add(-1)
			return
		}
	}
}
