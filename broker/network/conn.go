package network

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// readBufferBytes sizes the per-connection read buffer: several small pipelined requests arrive
// in one read; a frame larger than it is read straight into its own buffer by bufio.
const readBufferBytes = 8 << 10

// conn is one client connection. serve (the reader) runs for its lifetime; each request runs as
// a job on a handler worker, and responses are written by the goroutines that fill them
// (writer.go).
type conn struct {
	srv      *Server
	nc       net.Conn
	listener string
	remote   net.Addr
	addr     netip.Addr    // the client's IP, for the per-address connection quota
	log      *logrus.Entry // fields listener, remote

	ctx       context.Context // given to handlers; cancelled by close
	cancel    context.CancelFunc
	closeOnce sync.Once

	// Reader goroutine only.
	br       *bufio.Reader
	sizeBuf  [4]byte
	clientID string // the last client id seen, reused while the client repeats it

	idle       time.Duration // <= 0: never closed for idleness
	lastActive atomic.Int64  // unix nanos of the last byte read or response written

	// sem holds one token per request not yet written (in flight): the reader sends before
	// queueing a slot, the writer receives once the slot is written. A full sem stops the reader.
	sem chan struct{}

	wmu     sync.Mutex // guards pending, writing and wclosed; a leaf (writer.go)
	pending slotRing   // slots not yet written, in request order
	writing bool       // a goroutine is writing; only it touches the socket's write side
	wclosed bool       // the connection is closed: nothing more is written, fillers release
	batch   []*slot    // the writer of the moment's; reused between batches
	bufs    net.Buffers
	// lastOrdered is closed when the latest ordered request (Options.Ordered) has been handled;
	// the next ordered request waits for it. Reader goroutine only.
	lastOrdered chan struct{}
}

// slot is one request's place in the response order. The reader creates it; exactly one
// goroutine (the handler's, or the reader for ApiVersions) fills out/err and then sets done;
// the writer reads out/err only after seeing done.
type slot struct {
	key      int16
	received time.Time
	clientID string
	metrics  reqMetrics // Kafka-named series to time at the answer
	out      *[]byte    // framed response; nil = nothing to send (acks=0 produce)
	secs     []Section  // file ranges sent between out's bytes (a ZeroCopy response)
	zc       ZeroCopy   // released once, when written or dropped (release)
	err      error      // close the connection when the writer reaches this slot
	done     atomic.Bool
	released atomic.Bool
}

// release lets go of a ZeroCopy response's files. Only after done (zc is the filler's until
// then); once, whoever comes first: the writer or a late filler.
func (s *slot) release() {
	if s.zc != nil && s.released.CompareAndSwap(false, true) {
		s.zc.Release()
	}
}

func newConn(s *Server, nc net.Conn, listener string) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &conn{
		srv: s, nc: nc, listener: listener, remote: nc.RemoteAddr(), addr: remoteAddr(nc),
		log:     s.log.WithFields(logrus.Fields{"listener": listener, "remote": nc.RemoteAddr().String()}),
		ctx:     ctx,
		cancel:  cancel,
		idle:    s.opts.IdleTimeout,
		sem:     make(chan struct{}, s.opts.MaxInFlightPerConn),
		pending: slotRing{buf: make([]*slot, s.opts.MaxInFlightPerConn)},
		batch:   make([]*slot, 0, maxWriteBatch),
		bufs:    make(net.Buffers, 0, maxWriteBatch),
	}
	c.br = bufio.NewReaderSize(idleReader{c}, readBufferBytes)
	c.lastActive.Store(time.Now().UnixNano())
	return c
}

// close cancels the connection's context (handlers, a reader waiting for a slot), then closes
// the socket (a reader or writer blocked in I/O), then drops the responses not written. Any
// goroutine may call it, holding no lock.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.cancel()
		_ = c.nc.Close()
		c.srv.removeConn(c)
		c.wmu.Lock()
		c.wclosed = true
		if !c.writing { // else the writer drops them when its write fails or ends
			c.releasePendingLocked()
		}
		c.wmu.Unlock()
	})
}

// serve is the reader: it reads frames, decodes and gates them, and dispatches each request in
// order. Any bad input ends it, and closing the connection ends everything else.
func (c *conn) serve() {
	defer c.srv.wg.Done()
	if c.idle > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.idle))
	}
	if !c.read() {
		c.close()
	}
}

// readOn is a new reader for the connection, taking over from one whose inline request parked
// (Parked): the old one finishes that request and ends.
func (c *conn) readOn() {
	defer c.srv.wg.Done()
	if !c.read() {
		c.close()
	}
}

// read is the reader's loop. It returns false when the connection must close, true when an
// inline request handed the reading on to a new reader (readOn) while it waits.
func (c *conn) read() (handedOff bool) {
	for {
		size, err := readFrameSize(c.br, &c.sizeBuf, c.srv.opts.MaxRequestBytes)
		if err != nil {
			c.logReadError(err)
			return false
		}
		// The frame's memory is reserved before anything is allocated for it; while the pool is
		// full this reader waits and its socket is not read (queued.max.request.bytes).
		if err := c.srv.pool.acquire(c.ctx, int64(size)); err != nil {
			return false
		}
		// A frame of a recycled key (Options.Recycled) comes from a pool and goes back to it
		// once its handler has returned; the key is the frame's first two bytes.
		var pooled *[]byte
		if size >= 2 {
			if k, err := c.br.Peek(2); err == nil {
				if key := int16(binary.BigEndian.Uint16(k)); key >= 0 && int(key) < len(c.srv.recycle) && c.srv.recycle[key] {
					pooled = getFrame(int(size))
				}
			}
		}
		var frame []byte
		if pooled != nil {
			frame = *pooled
			if _, err = io.ReadFull(c.br, frame); err != nil {
				err = fmt.Errorf("read request of %d bytes: %w", size, noEOF(err))
			}
		} else {
			frame, err = readFrameBody(c.br, size)
		}
		if err != nil {
			c.srv.pool.release(int64(size))
			c.logReadError(err)
			return false
		}
		received := time.Now()
		d, err := decodeRequest(c.srv.tbl, frame)
		clientID := c.clientIDString(d.hdr)
		if err != nil {
			c.srv.pool.release(int64(size))
			c.logDecodeError(d.hdr, clientID, err)
			return false
		}
		// Back-pressure: at MaxInFlightPerConn we stop here, and so stop reading the socket,
		// until the writer frees a slot.
		select {
		case c.sem <- struct{}{}:
		default:
			c.srv.metrics.inflightWait()
			select {
			case c.sem <- struct{}{}:
			case <-c.ctx.Done():
				c.srv.pool.release(int64(size))
				return false
			}
		}
		s := &slot{key: d.hdr.Key, received: received, clientID: clientID}
		s.metrics = c.srv.metrics.request(d.hdr.Key, d.hdr.Version, d.body)
		c.queueSlot(s)
		if d.hdr.Key == apiVersionsKey {
			c.answerAPIVersions(s, d)
			c.srv.pool.release(int64(size))
			continue
		}
		req := &Request{
			Key: d.hdr.Key, Version: d.hdr.Version, CorrelationID: d.hdr.CorrelationID,
			ClientID: clientID, Body: d.body,
			Listener: c.listener, RemoteAddr: c.remote, Received: received,
			frame: pooled,
		}
		t := &queueTicket{q: c.srv.queue}
		inline := c.srv.opts.Inline != nil && d.body != nil && c.srv.opts.Inline(d.hdr.Key, d.body)
		if c.srv.ordered[d.hdr.Key] {
			// An ordered request enters the request queue only once its predecessor is done: one
			// waiting behind a parked acks=all produce is not being handled, and must not keep
			// the queue from the follower fetches that produce is waiting for.
			prev, mine := c.lastOrdered, make(chan struct{})
			c.lastOrdered = mine
			var once sync.Once
			req.release = func() { once.Do(func() { close(mine) }) }
			if inline && closed(prev) {
				if ok, handedOff := c.handleInline(s, req, t, int64(size)); !ok || handedOff {
					return handedOff
				}
				continue
			}
			c.srv.wg.Add(1)
			c.srv.run(func() {
				defer req.Release()
				if prev != nil {
					select {
					case <-prev:
					case <-c.ctx.Done():
					}
				}
				if !c.srv.queue.enter(c.ctx) {
					c.srv.pool.release(int64(size))
					c.fill(s) // never handled: the connection is closing
					c.srv.wg.Done()
					return
				}
				c.handle(s, req, t, int64(size))
			})
			continue
		}
		if inline {
			if ok, handedOff := c.handleInline(s, req, t, int64(size)); !ok || handedOff {
				return handedOff
			}
			continue
		}
		// queued.max.requests: a full request queue stops this reader too.
		if !c.srv.queue.enter(c.ctx) {
			c.srv.pool.release(int64(size))
			c.fill(s) // never handled: the writer is stopping with the connection anyway
			return false
		}
		c.srv.wg.Add(1)
		c.srv.run(func() { c.handle(s, req, t, int64(size)) })
	}
}

// handleInline handles a request on the reader's goroutine (Options.Inline), once it has a place
// in the request queue; ok is false if the connection closed while it waited for one. If the
// handler parks (Parked), a new reader takes over the connection there, and handedOff tells this
// one to end once the request is answered.
func (c *conn) handleInline(s *slot, req *Request, t *queueTicket, frameBytes int64) (ok, handedOff bool) {
	if !c.srv.queue.enter(c.ctx) {
		c.srv.pool.release(frameBytes)
		req.Release()
		c.fill(s) // never handled: the connection is closing
		return false, false
	}
	t.handoff = func() {
		c.srv.wg.Add(1)
		go c.readOn()
	}
	c.srv.wg.Add(1) // handle's Done
	c.handle(s, req, t, frameBytes)
	return true, t.handedOff.Load()
}

// closed reports whether ch (nil: no predecessor) is closed.
func closed(ch chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// clientIDString converts the header's client id, reusing the previous string when a client
// repeats it (they always do) so steady traffic does not allocate one per request.
func (c *conn) clientIDString(h requestHeader) string {
	if h.ClientIDNull || len(h.ClientID) == 0 {
		return ""
	}
	if string(h.ClientID) != c.clientID {
		c.clientID = string(h.ClientID)
	}
	return c.clientID
}

func (c *conn) answerAPIVersions(s *slot, d decoded) {
	var req *kmsg.ApiVersionsRequest
	if d.body != nil {
		req = d.body.(*kmsg.ApiVersionsRequest)
		if d.hdr.Version >= 3 {
			c.log.WithFields(logrus.Fields{
				"client_id":               s.clientID,
				"client_software_name":    req.ClientSoftwareName,
				"client_software_version": req.ClientSoftwareVersion,
			}).Debug("ApiVersions")
		}
	} else {
		c.log.WithFields(logrus.Fields{"client_id": s.clientID, "version": d.hdr.Version}).
			Debug("ApiVersions version above ours; answering UNSUPPORTED_VERSION at v0")
	}
	resp := apiVersionsResponse(d.hdr.Version, req, c.srv.apiKeys)
	// ApiVersions responses never carry the response-header tag buffer: clients parse them
	// before they know which versions the broker speaks.
	s.out = encodeResponse(d.hdr.CorrelationID, false, resp)
	c.fill(s)
}

// handle runs the handler for one request and fills its slot. When the handler has returned,
// the request leaves the request queue (unless it parked earlier) and its frame's bytes go back
// to the memory pool: nothing refers to the frame any more but the decoded request, which is
// garbage once the response is encoded.
func (c *conn) handle(s *slot, req *Request, t *queueTicket, frameBytes int64) {
	defer c.srv.wg.Done()
	resp, err := c.callHandler(context.WithValue(c.ctx, ticketKey{}, t), req)
	t.leave()
	req.Release() // the next ordered request need not wait for this one's response to be written
	if zc, ok := resp.(ZeroCopy); ok {
		s.zc = zc // released by the writer, sent or not
	}
	switch {
	case err != nil:
		s.err = fmt.Errorf("handler for %s v%d (correlation id %d): %w",
			kmsg.NameForKey(req.Key), req.Version, req.CorrelationID, err)
	case resp == nil:
		// acks=0 produce: the slot is passed over without writing.
	case resp.Key() != req.Key:
		s.err = fmt.Errorf("handler answered %s with a %s response", kmsg.NameForKey(req.Key), kmsg.NameForKey(resp.Key()))
	default:
		resp.SetVersion(req.Version)
		if s.zc != nil {
			var err error
			if s.out, s.secs, err = encodeZeroCopy(req.CorrelationID, resp.IsFlexible(), s.zc, nil); err != nil {
				s.err = fmt.Errorf("encode %s v%d (correlation id %d): %w", kmsg.NameForKey(req.Key), req.Version, req.CorrelationID, err)
			}
		} else {
			s.out = encodeResponse(req.CorrelationID, resp.IsFlexible(), resp)
		}
	}
	c.srv.pool.release(frameBytes)
	if req.frame != nil {
		putFrame(req.frame) // the handler has returned and the response is encoded: nothing refers to it
		req.frame = nil
	}
	c.fill(s)
}

// callHandler turns a handler panic into an error that closes this one connection.
func (c *conn) callHandler(ctx context.Context, req *Request) (resp kmsg.Response, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.WithField("client_id", req.ClientID).Errorf("handler panic on %s v%d: %v\n%s",
				kmsg.NameForKey(req.Key), req.Version, p, debug.Stack())
			resp, err = nil, fmt.Errorf("handler panic: %v", p)
		}
	}()
	return c.srv.handler.Handle(ctx, req)
}

func (c *conn) logReadError(err error) {
	if c.ctx.Err() != nil {
		return // closed by us (server Close, writer failure); nothing to report
	}
	var sizeErr *frameSizeError
	switch {
	case errors.As(err, &sizeErr):
		c.srv.metrics.connClosedBy(limitRequestSize)
		c.log.WithError(err).Warn("closing connection: invalid request size")
	case errors.Is(err, errIdle):
		c.srv.metrics.connClosedBy(limitIdle)
		c.log.WithField("idle_timeout", c.idle).Debug("closing idle connection")
	case errors.Is(err, io.EOF):
		c.log.Debug("client closed connection")
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.log.WithError(err).Info("client closed connection inside a request")
	default:
		c.log.WithError(err).Debug("read failed; closing connection")
	}
}

func (c *conn) logDecodeError(h requestHeader, clientID string, err error) {
	l := c.log.WithFields(logrus.Fields{"client_id": clientID, "api_key": h.Key, "api_version": h.Version})
	var unsup *unsupportedError
	if errors.As(err, &unsup) {
		l.WithError(err).Warn("closing connection: unsupported request")
		return
	}
	l.WithError(err).Warn("closing connection: malformed request")
}

// errIdle ends the reader of a connection idle for IdleTimeout.
var errIdle = errors.New("connection idle")

// idleReader is the socket as the reader's bufio sees it. The read deadline is pushed forward
// lazily: when it fires, the connection is idle only if nothing is in flight and nothing was read
// or written for IdleTimeout; otherwise the deadline moves to the end of the new idle window.
type idleReader struct{ c *conn }

func (r idleReader) Read(p []byte) (int, error) {
	c := r.c
	for {
		n, err := c.nc.Read(p)
		if n > 0 {
			c.lastActive.Store(time.Now().UnixNano())
			c.srv.metrics.in(n)
			return n, nil // a persisting error comes back on the next call
		}
		var ne net.Error
		if c.idle <= 0 || err == nil || !errors.As(err, &ne) || !ne.Timeout() {
			return n, err
		}
		wait, idle := c.idleWait()
		if idle {
			return 0, errIdle
		}
		if err := c.nc.SetReadDeadline(time.Now().Add(wait)); err != nil {
			return 0, fmt.Errorf("extend read deadline: %w", err)
		}
	}
}

// idleWait returns how long the connection may still stay quiet, or idle=true if its time is up.
func (c *conn) idleWait() (wait time.Duration, idle bool) {
	if len(c.sem) > 0 {
		return c.idle, false // a request is in flight: not idle, whatever its duration
	}
	quiet := time.Since(time.Unix(0, c.lastActive.Load()))
	if quiet >= c.idle {
		return 0, true
	}
	return c.idle - quiet, false
}
