package network

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testServed is what the test servers advertise besides ApiVersions.
var testServed = []APIRange{
	{Key: 0, Min: 3, Max: 9},  // Produce (v9 flexible)
	{Key: 1, Min: 4, Max: 12}, // Fetch
	{Key: 3, Min: 0, Max: 12}, // Metadata (v9+ flexible)
}

// testHandler answers every request with an empty response of the right kind unless fn is set.
type testHandler struct {
	fn func(ctx context.Context, r *Request) (kmsg.Response, error)
}

func (h *testHandler) Handle(ctx context.Context, r *Request) (kmsg.Response, error) {
	if h.fn != nil {
		return h.fn(ctx, r)
	}
	return r.Body.ResponseKind(), nil
}

type testServer struct {
	*Server
	addr string
	logs *logtest.Hook
}

// startServer starts a server on 127.0.0.1:0 with testServed unless o says otherwise; Close is
// registered as cleanup.
func startServer(t testing.TB, o Options, fn func(ctx context.Context, r *Request) (kmsg.Response, error)) *testServer {
	t.Helper()
	if o.Listeners == nil {
		o.Listeners = []ListenerSpec{{Name: "PLAINTEXT", Addr: "127.0.0.1:0"}}
	}
	if o.Served == nil {
		o.Served = testServed
	}
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	if o.Logger == nil {
		o.Logger = logger
	}
	s := NewServer(o, &testHandler{fn: fn})
	if err := s.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &testServer{Server: s, addr: s.Addr(o.Listeners[0].Name).String(), logs: hook}
}

// client is a raw-socket Kafka client: it writes frames built with kmsg and reads raw responses.
type client struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	corr int32
	fmt  *kmsg.RequestFormatter
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &client{t: t, conn: nc, br: bufio.NewReader(nc), fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID("net-test"))}
}

// frame encodes req at version with the next correlation id.
func (c *client) frame(req kmsg.Request, version int16) ([]byte, int32) {
	c.corr++
	req.SetVersion(version)
	return c.fmt.AppendRequest(nil, req, c.corr), c.corr
}

func (c *client) write(b []byte) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.conn.Write(b)
	return err
}

// send writes one request and returns its correlation id.
func (c *client) send(req kmsg.Request, version int16) int32 {
	c.t.Helper()
	f, corr := c.frame(req, version)
	if err := c.write(f); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	return corr
}

// readRaw reads one response frame: its correlation id and what follows it.
func (c *client) readRaw(timeout time.Duration) (int32, []byte, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	var size [4]byte
	if _, err := io.ReadFull(c.br, size[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 64<<20 {
		return 0, nil, fmt.Errorf("response size %d", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.br, buf); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(buf)), buf[4:], nil
}

// read reads one response to req (sent at req's version): the response header's tag buffer is
// expected for flexible versions except ApiVersions, and the body must decode exactly.
func (c *client) read(req kmsg.Request) (int32, kmsg.Response, error) {
	corr, body, err := c.readRaw(5 * time.Second)
	if err != nil {
		return 0, nil, err
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != apiVersionsKey {
		if len(body) == 0 || body[0] != 0 {
			return corr, nil, fmt.Errorf("response header tag buffer missing (body % x)", body)
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		return corr, nil, fmt.Errorf("decode %s v%d response: %w", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return corr, resp, nil
}

// roundTrip sends req at version and reads its response, checking the correlation id.
func (c *client) roundTrip(req kmsg.Request, version int16) (kmsg.Response, error) {
	corr := c.send(req, version)
	got, resp, err := c.read(req)
	if err != nil {
		return nil, err
	}
	if got != corr {
		return nil, fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	return resp, nil
}

// expectClosed asserts the server closes the connection (EOF or reset) within 5 s and sends no
// response first.
func (c *client) expectClosed(what string) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.Copy(io.Discard, c.br)
	if err == nil || isClosedErr(err) {
		if n != 0 {
			c.t.Errorf("%s: server sent %d bytes before closing", what, n)
		}
		return
	}
	c.t.Fatalf("%s: connection not closed: %v", what, err)
}

func isClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func metadataReq() *kmsg.MetadataRequest { return kmsg.NewPtrMetadataRequest() }

// waitFor receives from ch or fails after 5 s.
func waitFor[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
