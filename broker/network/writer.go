package network

import (
	"net"
	"time"
)

// maxWriteBatch bounds how many ready responses go into one writev.
const maxWriteBatch = 64

// writeLoop writes responses in request order: it takes slots from the queue, waits for each to
// be filled, and writes consecutive ready ones with one writev. A handler error or a write
// failure closes the connection; responses before it have been written.
func (c *conn) writeLoop() {
	defer c.srv.wg.Done()
	var (
		cur   *slot // being awaited
		next  *slot // taken from the queue, not yet filled
		batch = make([]*slot, 0, maxWriteBatch)
		bufs  = make(net.Buffers, 0, maxWriteBatch)
	)
	defer func() {
		c.close()
		// Responses that will never be written still hold file references (ZeroCopy): release
		// those already filled here; a handler that fills one later sees writerGone and releases
		// it itself (fill). Either this loop sees a slot done or its filler sees writerGone.
		c.writerGone.Store(true)
		for _, s := range append(batch, cur, next) {
			if s != nil && s.done.Load() {
				s.release()
			}
		}
		for {
			select {
			case s := <-c.queue:
				if s.done.Load() {
					s.release()
				}
			default:
				return
			}
		}
	}()
	for {
		cur, next = next, nil
		if cur == nil {
			select {
			case cur = <-c.queue:
			case <-c.ctx.Done():
				return
			}
		}
		if !c.await(cur) {
			return
		}
		batch = append(batch[:0], cur)
		cur = nil
	gather:
		for len(batch) < maxWriteBatch && batch[len(batch)-1].err == nil {
			select {
			case n := <-c.queue:
				if !n.done.Load() {
					next = n
					break gather
				}
				batch = append(batch, n)
			default:
				break gather
			}
		}

		if c.idle > 0 {
			// A client that stops reading its responses is as dead as an idle one.
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.idle))
		}
		bufs = bufs[:0]
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
					return
				}
				n, err := sendRange(c.nc, sec.Src)
				c.srv.metrics.out(n)
				if err != nil {
					if c.ctx.Err() == nil {
						c.log.WithError(err).Debug("sendfile failed; closing connection")
					}
					return
				}
				from = sec.At
			}
			for _, sec := range s.secs {
				if !sec.Src.Intact() {
					// The rest of the frame (at least its last byte) is not sent: the client
					// drops the incomplete response with the connection.
					c.log.WithField("client_id", s.clientID).WithError(errNotIntact).Info("closing connection")
					return
				}
			}
			if from < len(out) {
				bufs = append(bufs, out[from:])
			}
		}
		if !c.flush(&bufs) {
			return
		}
		c.lastActive.Store(time.Now().UnixNano())
		for _, s := range batch {
			if s == failed {
				break
			}
			c.srv.metrics.done(s.key, s.received, s.metrics)
			releaseOut(s.out)
			s.out = nil
			s.release()
			<-c.sem // after lastActive: a reader that sees no request in flight sees this write
		}
		if failed != nil {
			c.log.WithField("client_id", failed.clientID).WithError(failed.err).Warn("closing connection: request failed")
			return
		}
	}
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

// await waits until s is filled; false if the connection closed first.
func (c *conn) await(s *slot) bool {
	for !s.done.Load() {
		select {
		case <-c.wake:
		case <-c.ctx.Done():
			return false
		}
	}
	return true
}
