package interbroker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Options configure a Conn (and the Conn under a Queue).
type Options struct {
	// ClientID is sent in every request header ("broker-1-fetcher-0", "gregor-controller").
	ClientID string
	// Dial opens the TCP connection (nil: a net.Dialer with ConnectTimeout).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ConnectTimeout bounds a dial (default 10 s).
	ConnectTimeout time.Duration
	// RequestTimeout bounds one round trip, write to last byte read (default 30 s, Kafka's
	// replica.socket.timeout.ms and controller.socket.timeout.ms).
	RequestTimeout time.Duration
	// MaxResponseBytes refuses a reply announcing a larger frame (default 100 MiB): a broken
	// or hostile peer must not make us allocate without bound.
	MaxResponseBytes int32
	// ReuseBuffer keeps one response buffer per connection instead of allocating one per
	// round trip. The decoded response then aliases the buffer (record batches of a Fetch are
	// sub-slices of it) and is valid only until the next RoundTrip — fine for a fetcher that
	// appends what it got before asking again.
	ReuseBuffer bool
	Logger      logrus.FieldLogger
}

func (o Options) withDefaults() Options {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 100 << 20
	}
	if o.Dial == nil {
		d := &net.Dialer{Timeout: o.ConnectTimeout}
		o.Dial = d.DialContext
	}
	if o.ClientID == "" {
		o.ClientID = "gregor-broker"
	}
	if o.Logger == nil {
		l := logrus.New()
		l.SetLevel(logrus.WarnLevel)
		o.Logger = l
	}
	return o
}

// ErrClosed is returned by a round trip on a closed Conn.
var ErrClosed = errors.New("interbroker: connection closed")

// Conn is one connection to one broker. Safe for concurrent use; round trips are serialized.
type Conn struct {
	o    Options
	dest int32

	closeCtx context.Context // cancelled by Close: interrupts a round trip in progress
	closeFn  context.CancelFunc

	// addrMu (a leaf, never held across I/O) guards addr, so that asking or changing where the
	// Conn points never waits for a round trip in progress — a LeaderAndIsr moving thousands of
	// partitions between fetchers asks it for each of them.
	addrMu sync.Mutex
	addr   string

	mu       sync.Mutex // serializes round trips; guards every field below
	connAddr string     // the address nc is connected to
	nc       net.Conn
	br       *bufio.Reader
	corr     int32
	buf      []byte // request encoding buffer, reused
	resp     []byte // response buffer when ReuseBuffer
}

// NewConn returns a Conn to broker dest at addr (host:port); nothing is dialled yet.
func NewConn(dest int32, addr string, o Options) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &Conn{o: o.withDefaults(), dest: dest, addr: addr, closeCtx: ctx, closeFn: cancel}
}

// Dest is the destination broker id.
func (c *Conn) Dest() int32 { return c.dest }

// Addr is the destination address.
func (c *Conn) Addr() string {
	c.addrMu.Lock()
	defer c.addrMu.Unlock()
	return c.addr
}

// SetAddr points the Conn at a new address (the broker re-registered elsewhere); the next round
// trip drops a connection to the old one and dials the new one.
func (c *Conn) SetAddr(addr string) {
	c.addrMu.Lock()
	c.addr = addr
	c.addrMu.Unlock()
}

// Close drops the connection and makes every later round trip fail with ErrClosed; a round
// trip in progress returns promptly.
func (c *Conn) Close() {
	c.closeFn()
	c.mu.Lock()
	c.dropLocked()
	c.mu.Unlock()
}

func (c *Conn) dropLocked() {
	if c.nc != nil {
		_ = c.nc.Close()
		c.nc, c.br = nil, nil
	}
}

// RoundTrip sends req at its set version and returns the decoded response. On any error the
// connection is dropped (the next call reconnects); the caller decides whether and when to
// retry. ctx cancellation interrupts the round trip.
func (c *Conn) RoundTrip(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeCtx.Err() != nil {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	addr := c.Addr()
	if c.nc != nil && c.connAddr != addr {
		c.dropLocked() // pointed elsewhere since
	}
	if c.nc == nil {
		dctx, cancel := context.WithTimeout(ctx, c.o.ConnectTimeout)
		stop := context.AfterFunc(c.closeCtx, cancel)
		nc, err := c.o.Dial(dctx, "tcp", addr)
		stop()
		cancel()
		if err != nil {
			if c.closeCtx.Err() != nil {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("connect to broker %d at %s: %w", c.dest, addr, err)
		}
		c.nc, c.br, c.connAddr = nc, bufio.NewReaderSize(nc, 32<<10), addr
	}
	nc := c.nc
	// Cancellation of either context expires the deadline, which unblocks the I/O below.
	interrupt := func() { _ = nc.SetDeadline(time.Unix(1, 0)) }
	stop1 := context.AfterFunc(ctx, interrupt)
	stop2 := context.AfterFunc(c.closeCtx, interrupt)
	defer stop1()
	defer stop2()
	_ = nc.SetDeadline(time.Now().Add(c.o.RequestTimeout))

	resp, err := c.roundTripLocked(req)
	if err != nil {
		c.dropLocked()
		switch {
		case c.closeCtx.Err() != nil:
			return nil, ErrClosed
		case ctx.Err() != nil:
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s to broker %d at %s: %w", kmsg.NameForKey(req.Key()), c.dest, addr, err)
	}
	return resp, nil
}

func (c *Conn) roundTripLocked(req kmsg.Request) (kmsg.Response, error) {
	c.corr++
	corr := c.corr
	c.buf = AppendRequest(c.buf[:0], req, corr, c.o.ClientID)
	if _, err := c.nc.Write(c.buf); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(c.br, size[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > c.o.MaxResponseBytes {
		return nil, fmt.Errorf("response frame of %d bytes (limit %d)", n, c.o.MaxResponseBytes)
	}
	var body []byte
	if c.o.ReuseBuffer {
		if cap(c.resp) < int(n) {
			c.resp = make([]byte, n)
		}
		body = c.resp[:n]
	} else {
		body = make([]byte, n)
	}
	if _, err := io.ReadFull(c.br, body); err != nil {
		return nil, err
	}
	return DecodeResponse(req, corr, body)
}

// AppendRequest appends one size-prefixed request frame: header v1 (v2 for flexible versions:
// an empty tag buffer after the client id), then the body.
func AppendRequest(dst []byte, req kmsg.Request, corr int32, clientID string) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.Key()))
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.GetVersion()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(clientID)))
	dst = append(dst, clientID...)
	if req.IsFlexible() {
		dst = append(dst, 0)
	}
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// DecodeResponse parses a response frame's body (after the size): the correlation id, which
// must be corr, the header's tag buffer for flexible versions, then req's response type.
func DecodeResponse(req kmsg.Request, corr int32, body []byte) (kmsg.Response, error) {
	if len(body) < 4 {
		return nil, errors.New("response shorter than its header")
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		return nil, fmt.Errorf("response correlation id %d, expected %d", got, corr)
	}
	body = body[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	// ApiVersions answers with header v0 even when flexible (KIP-511).
	if resp.IsFlexible() && req.Key() != 18 {
		n, k := binary.Uvarint(body)
		if k <= 0 || n > uint64(len(body)) {
			return nil, errors.New("bad response header tag count")
		}
		body = body[k:]
		for i := uint64(0); i < n; i++ {
			_, k1 := binary.Uvarint(body)
			if k1 <= 0 {
				return nil, errors.New("bad response header tag")
			}
			sz, k2 := binary.Uvarint(body[k1:])
			if k2 <= 0 || sz > uint64(len(body)) || uint64(len(body)) < uint64(k1+k2)+sz {
				return nil, errors.New("bad response header tag")
			}
			body = body[uint64(k1+k2)+sz:]
		}
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode %s v%d response: %w", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp, nil
}
