package controller

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// channel sends the controller's requests to one broker, in order, over one connection, as
// Kafka's ControllerChannelManager does: a queue and a sender goroutine per broker, reconnecting
// and resending on failure until the channel is stopped (the broker died or we resigned).
type channel struct {
	brokerID int32
	addr     string
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	log      logrus.FieldLogger

	mu     sync.Mutex // guards queue and closed; cond signals the sender
	cond   *sync.Cond
	queue  []outbound
	closed bool

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the sender goroutine exits
}

// outbound is one queued request; cb runs on the sender goroutine with the response.
type outbound struct {
	req kmsg.Request
	cb  func(kmsg.Response, error)
}

func newChannel(brokerID int32, addr string, dial func(ctx context.Context, network, addr string) (net.Conn, error), log logrus.FieldLogger) *channel {
	ctx, cancel := context.WithCancel(context.Background())
	c := &channel{brokerID: brokerID, addr: addr, dial: dial, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		log: log.WithFields(logrus.Fields{"to_broker": brokerID, "addr": addr})}
	c.cond = sync.NewCond(&c.mu)
	go c.run() // owned by c: stop() cancels and waits
	return c
}

func (c *channel) send(req kmsg.Request, cb func(kmsg.Response, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		if cb != nil {
			cb(nil, fmt.Errorf("channel to broker %d closed", c.brokerID))
		}
		return
	}
	c.queue = append(c.queue, outbound{req, cb})
	c.cond.Signal()
}

func (c *channel) stop() {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	c.cancel()
	<-c.done
}

func (c *channel) next() (outbound, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queue) == 0 && !c.closed {
		c.cond.Wait()
	}
	if c.closed {
		return outbound{}, false
	}
	o := c.queue[0]
	c.queue = c.queue[1:]
	return o, true
}

func (c *channel) run() {
	defer close(c.done)
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	var corr int32
	for {
		o, ok := c.next()
		if !ok {
			return
		}
		for backoff := 50 * time.Millisecond; ; backoff = min(backoff*2, 2*time.Second) {
			if c.ctx.Err() != nil {
				return
			}
			if conn == nil {
				var err error
				conn, err = c.dial(c.ctx, "tcp", c.addr)
				if err != nil {
					c.log.WithError(err).Debug("connecting to broker")
					c.sleep(backoff)
					continue
				}
			}
			corr++
			resp, err := roundTrip(conn, o.req, corr)
			if err != nil {
				c.log.WithError(err).Debug("controller request failed; reconnecting")
				conn.Close()
				conn = nil
				c.sleep(backoff)
				continue
			}
			if o.cb != nil {
				o.cb(resp, nil)
			}
			break
		}
	}
}

// sleep waits for d or until the channel is stopped; a stop is the event that ends retries.
func (c *channel) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.ctx.Done():
	}
}

// roundTrip writes one request (header v1, or v2 for flexible versions) and reads its response.
func roundTrip(conn net.Conn, req kmsg.Request, corr int32) (kmsg.Response, error) {
	const clientID = "gregor-controller"
	buf := make([]byte, 4, 256)
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.Key()))
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.GetVersion()))
	buf = binary.BigEndian.AppendUint32(buf, uint32(corr))
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(clientID)))
	buf = append(buf, clientID...)
	if req.IsFlexible() {
		buf = append(buf, 0)
	}
	buf = req.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write(buf); err != nil {
		return nil, err
	}
	r := bufio.NewReader(conn)
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	if len(body) < 4 || int32(binary.BigEndian.Uint32(body)) != corr {
		return nil, fmt.Errorf("response correlation id mismatch")
	}
	body = body[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() {
		// Response header v1: skip the tagged fields (a uvarint count, then tag/size/bytes).
		n, k := binary.Uvarint(body)
		if k <= 0 {
			return nil, fmt.Errorf("bad response header")
		}
		body = body[k:]
		for i := uint64(0); i < n; i++ {
			_, k1 := binary.Uvarint(body)
			if k1 <= 0 {
				return nil, fmt.Errorf("bad response tag")
			}
			sz, k2 := binary.Uvarint(body[k1:])
			if k2 <= 0 || uint64(len(body)) < uint64(k1+k2)+sz {
				return nil, fmt.Errorf("bad response tag")
			}
			body = body[uint64(k1+k2)+sz:]
		}
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode %s response: %w", kmsg.NameForKey(req.Key()), err)
	}
	return resp, nil
}
