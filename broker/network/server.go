package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Server is the broker's Kafka-protocol server. Create it with NewServer, then Start; Close
// stops it. See the package comment for the goroutines it runs.
type Server struct {
	opts    Options // defaults applied; read-only after NewServer
	handler Handler
	log     logrus.FieldLogger

	// Set by Start, read-only afterwards.
	tbl     versionTable
	apiKeys []kmsg.ApiVersionsResponseApiKey
	metrics *metrics
	ordered map[int16]bool    // Options.Ordered as a set; read-only after NewServer
	recycle [apiKeyLimit]bool // Options.Recycled as a set; read-only after NewServer
	pool    *memoryPool       // queued.max.request.bytes
	queue   *requestQueue     // queued.max.requests

	ctx    context.Context // parent of every connection context; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loops, connection readers and writers, handler workers and jobs

	workers *workers // the goroutines handlers run on (workers.go)

	mu        sync.Mutex // guards the fields below
	started   bool
	closed    bool
	listeners []namedListener
	conns     map[*conn]struct{}
	quotas    *connQuotas // max.connections, max.connections.per.ip
}

type namedListener struct {
	name string
	ln   net.Listener
}

// NewServer returns a server for o that hands requests to h. Nothing listens before Start.
func NewServer(o Options, h Handler) *Server {
	o = o.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	ordered := map[int16]bool{}
	for _, k := range o.Ordered {
		ordered[k] = true
	}
	s := &Server{
		opts: o, handler: h, log: o.Logger,
		ctx: ctx, cancel: cancel,
		conns:   map[*conn]struct{}{},
		ordered: ordered,
		workers: newWorkers(),
	}
	for _, k := range o.Recycled {
		if k >= 0 && int(k) < len(s.recycle) {
			s.recycle[k] = true
		}
	}
	return s
}

// Start validates the options, binds every listener and starts accepting. If one listener
// cannot bind, the others are closed again and the error names it.
func (s *Server) Start() error {
	if err := s.opts.validate(); err != nil {
		return fmt.Errorf("network options: %w", err)
	}
	tbl, keys, err := newVersionTable(s.opts.Served)
	if err != nil {
		return fmt.Errorf("network options: %w", err)
	}
	quotas, err := newConnQuotas(s.opts)
	if err != nil {
		return fmt.Errorf("network options: %w", err)
	}
	var m *metrics
	if s.opts.Registerer != nil {
		if m, err = newMetrics(s.opts.Registerer, tbl); err != nil {
			return err
		}
		m.initLabels(s.opts.Listeners)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return errors.New("network server already started or closed")
	}
	s.tbl, s.apiKeys, s.metrics, s.quotas = tbl, keys, m, quotas
	s.pool = newMemoryPool(s.opts.QueuedMaxRequestBytes, m)
	s.queue = newRequestQueue(s.opts.QueuedMaxRequests, m)
	var lns []namedListener
	for _, spec := range s.opts.Listeners {
		ln, err := net.Listen("tcp", spec.Addr)
		if err != nil {
			for _, l := range lns {
				_ = l.ln.Close()
			}
			return fmt.Errorf("listener %s on %s: %w", spec.Name, spec.Addr, err)
		}
		lns = append(lns, namedListener{name: spec.Name, ln: ln})
	}
	s.listeners = lns
	s.started = true
	for _, l := range lns {
		s.log.WithFields(logrus.Fields{"listener": l.name, "addr": l.ln.Addr().String()}).Info("listening")
		s.wg.Add(1)
		go s.acceptLoop(l)
	}
	return nil
}

// Addr returns the bound address of the named listener, nil if there is none (or before Start).
func (s *Server) Addr(listener string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		if l.name == listener {
			return l.ln.Addr()
		}
	}
	return nil
}

// Close stops accepting, cancels every handler's context, closes every connection and waits for
// all goroutines, handlers included. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	var errs []error
	if !already {
		for _, l := range s.listeners {
			if err := l.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, fmt.Errorf("close listener %s: %w", l.name, err))
			}
		}
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	s.cancel()
	for _, c := range conns {
		c.close()
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// acceptLoop accepts on one listener until Close closes it. Temporary errors back off like
// net/http does instead of spinning; running out of file descriptors (EMFILE/ENFILE) is a
// resource limit an operator must see: counted, and logged as such at most every 10 s, with the
// process's limit.
func (s *Server) acceptLoop(l namedListener) {
	defer s.wg.Done()
	log := s.log.WithField("listener", l.name)
	var delay time.Duration
	var lastFDLog time.Time
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				if s.metrics != nil {
					s.metrics.fdExhaustedG.Inc()
				}
				if time.Since(lastFDLog) >= 10*time.Second {
					lastFDLog = time.Now()
					var lim syscall.Rlimit
					_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
					log.WithError(err).WithFields(logrus.Fields{"rlimit_nofile_soft": lim.Cur, "rlimit_nofile_hard": lim.Max}).
						Error("out of file descriptors: new connections wait until some close (raise RLIMIT_NOFILE, or host fewer segments)")
				}
			} else {
				log.WithError(err).Warnf("accept failed; retrying in %v", delay)
			}
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		c := newConn(s, nc, l.name)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		if refusedBy, limit := s.quotas.admit(l.name, c.addr); refusedBy != "" {
			s.mu.Unlock()
			c.cancel()
			_ = nc.Close() // accepted, then closed at once: Kafka's answer to a connection over a limit
			s.metrics.connRefused(l.name, refusedBy)
			log.WithFields(logrus.Fields{"remote": nc.RemoteAddr().String(), "limit": refusedBy}).
				Infof("refused connection: %s = %d reached", refusedBy, limit)
			continue
		}
		s.conns[c] = struct{}{}
		s.metrics.connOpened(l.name, 1) // under mu, so removeConn's decrement cannot come first
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		s.quotas.release(c.addr)
		s.metrics.connOpened(c.listener, -1)
	}
}
