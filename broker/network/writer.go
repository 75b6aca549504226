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
	defer c.close()
	var (
		next  *slot // taken from the queue, not yet filled
		batch = make([]*slot, 0, maxWriteBatch)
		bufs  = make(net.Buffers, 0, maxWriteBatch)
	)
	for {
		s := next
		next = nil
		if s == nil {
			select {
			case s = <-c.queue:
			case <-c.ctx.Done():
				return
			}
		}
		if !c.await(s) {
			return
		}
		batch = append(batch[:0], s)
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

		bufs = bufs[:0]
		var failed *slot
		for _, s := range batch {
			if s.err != nil {
				failed = s
				break
			}
			if s.out != nil {
				bufs = append(bufs, *s.out)
			}
		}
		if len(bufs) > 0 {
			if c.idle > 0 {
				// A client that stops reading its responses is as dead as an idle one.
				_ = c.nc.SetWriteDeadline(time.Now().Add(c.idle))
			}
			w := bufs // WriteTo consumes its receiver; keep bufs' backing array for reuse
			n, err := w.WriteTo(c.nc)
			c.srv.metrics.out(n)
			if err != nil {
				if c.ctx.Err() == nil {
					c.log.WithError(err).Debug("write failed; closing connection")
				}
				return
			}
		}
		c.lastActive.Store(time.Now().UnixNano())
		for _, s := range batch {
			if s == failed {
				break
			}
			c.srv.metrics.done(s.key, s.received)
			releaseOut(s.out)
			s.out = nil
			<-c.sem // after lastActive: a reader that sees no request in flight sees this write
		}
		if failed != nil {
			c.log.WithField("client_id", failed.clientID).WithError(failed.err).Warn("closing connection: request failed")
			return
		}
	}
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
