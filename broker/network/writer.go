package network

import (
	"net"
	"time"
)

// maxWriteBatch bounds how many ready responses go into one writev.
const maxWriteBatch = 64

// Responses are written in request order by whichever goroutine fills the slot that lets the
// head of the order go out: the handler that fills a slot writes it, and every filled one after
// it, unless another goroutine is writing already; that one takes the new slot on its next look
// at the head. There is no writer goroutine: handing every response to one cost a goroutine
// wake-up per request (at 10 000 small requests a second, a wake-up is a futex call and a
// thread switch on another core), and a handler that writes its own response while nothing is
// ahead of it is what a request served on one goroutine does.
//
// conn.wmu guards pending, writing and wclosed, and is a leaf: no socket I/O, handler call or
// other lock is taken under it. Only the goroutine that set writing (the writer of the moment)
// touches the socket's write side, c.batch and c.bufs; it clears writing under wmu when the head
// is not ready, so a slot filled after that finds writing false and writes itself.

// slotRing is a connection's slots not yet written, in request order. The reader pushes; the
// writer of the moment pops. At most MaxInFlightPerConn are held (the reader takes a sem token
// first and the writer frees it once written), so it does not grow after newConn sizes it.
type slotRing struct {
	buf     []*slot
	head, n int
}

func (r *slotRing) push(s *slot) {
	if r.n == len(r.buf) { // not reached while sem bounds it; kept correct regardless
		nb := make([]*slot, max(2*len(r.buf), 8))
		for i := 0; i < r.n; i++ {
			nb[i] = r.at(i)
		}
		r.buf, r.head = nb, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = s
	r.n++
}

func (r *slotRing) at(i int) *slot { return r.buf[(r.head+i)%len(r.buf)] }

func (r *slotRing) pop() *slot {
	s := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return s
}

// queueSlot puts the reader's new slot at the end of the response order.
func (c *conn) queueSlot(s *slot) {
	c.wmu.Lock()
	c.pending.push(s)
	c.wmu.Unlock()
}

// fill publishes a slot's result, and writes whatever is ready at the head of the response
// order if no other goroutine is writing.
func (c *conn) fill(s *slot) {
	s.done.Store(true)
	c.wmu.Lock()
	switch {
	case c.wclosed:
		c.wmu.Unlock()
		s.release() // no one will write it
		return
	case c.writing:
		c.wmu.Unlock() // the writer looks at the head again when its write is done
		return
	}
	c.writing = true
	c.writeReady()
}

// writeReady writes the filled slots at the head of the response order, batch after batch, until
// the head is not filled. Called with wmu held and writing set; returns with wmu released. A
// handler error or a write failure closes the connection; responses before it have been written.
func (c *conn) writeReady() {
	for {
		n := 0
		for n < c.pending.n && n < maxWriteBatch {
			s := c.pending.at(n)
			if !s.done.Load() {
				break
			}
			n++
			if s.err != nil {
				break // written up to it, then the connection closes
			}
		}
		if n == 0 || c.wclosed {
			c.writing = false
			if c.wclosed {
				c.releasePendingLocked()
			}
			c.wmu.Unlock()
			return
		}
		batch := c.batch[:0]
		for i := 0; i < n; i++ {
			batch = append(batch, c.pending.pop())
		}
		c.wmu.Unlock()

		ok := c.writeBatch(batch)
		clear(batch) // the slots are garbage once written
		c.batch = batch[:0]

		c.wmu.Lock()
		if !ok {
			c.writing = false
			c.wmu.Unlock()
			c.close() // releases what is still pending
			return
		}
	}
}

// releasePendingLocked drops every slot not written: the filled ones release their files here;
// one filled later sees wclosed and releases its own (fill). Called with wmu held.
func (c *conn) releasePendingLocked() {
	for c.pending.n > 0 {
		if s := c.pending.pop(); s.done.Load() {
			s.release()
		}
	}
}

// writeBatch writes filled slots in order, consecutive ones with one writev and file ranges with
// sendfile between them, and frees each one's in-flight token. False if the connection must
// close: a write failed or a slot carries an error (the slots before it are written).
func (c *conn) writeBatch(batch []*slot) bool {
	defer func() {
		for _, s := range batch {
			s.release() // written or not, the files are done with (a no-op for a second call)
		}
	}()
	if c.idle > 0 {
		// A client that stops reading its responses is as dead as an idle one.
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.idle))
	}
	bufs := c.bufs[:0]
	defer func() { c.bufs = bufs[:0] }()
	var failed *slot
	for _, s := range batch {
		if s.err != nil {
			failed = s
			break
		}
		if s.out == nil {
			continue
		}
		out := *s.out
		from := 0
		for _, sec := range s.secs {
			// The fixed bytes before the range (and any earlier responses) go out first.
			if sec.At > from {
				bufs = append(bufs, out[from:sec.At])
			}
			if !c.flush(&bufs) {
				return false
			}
			n, err := sendRange(c.nc, sec.Src)
			c.srv.metrics.out(n)
			if err != nil {
				if c.ctx.Err() == nil {
					c.log.WithError(err).Debug("sendfile failed; closing connection")
				}
				return false
			}
			from = sec.At
		}
		for _, sec := range s.secs {
			if !sec.Src.Intact() {
				// The rest of the frame (at least its last byte) is not sent: the client
				// drops the incomplete response with the connection.
				c.log.WithField("client_id", s.clientID).WithError(errNotIntact).Info("closing connection")
				return false
			}
		}
		if from < len(out) {
			bufs = append(bufs, out[from:])
		}
	}
	if !c.flush(&bufs) {
		return false
	}
	c.lastActive.Store(time.Now().UnixNano())
	for _, s := range batch {
		if s == failed {
			break
		}
		c.srv.metrics.done(s.key, s.received, s.metrics)
		releaseOut(s.out)
		s.out = nil
		<-c.sem // after lastActive: a reader that sees no request in flight sees this write
	}
	if failed != nil {
		c.log.WithField("client_id", failed.clientID).WithError(failed.err).Warn("closing connection: request failed")
		return false
	}
	return true
}

// flush writes bufs with one writev and empties it, keeping its backing array; false (the
// connection is done) on a write error.
func (c *conn) flush(bufs *net.Buffers) bool {
	if len(*bufs) == 0 {
		return true
	}
	w := *bufs // WriteTo consumes its receiver
	n, err := w.WriteTo(c.nc)
	c.srv.metrics.out(n)
	*bufs = (*bufs)[:0]
	if err != nil {
		if c.ctx.Err() == nil {
			c.log.WithError(err).Debug("write failed; closing connection")
		}
		return false
	}
	return true
}
