package network

import (
	"bufio"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metricValue reads one series from reg (0 if absent); labels are name/value pairs.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

// eventually polls cond every 5 ms until it holds or 5 s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dialFromAddr connects to addr from a chosen loopback address (127.0.0.0/8 is all local on
// Linux), so one test can be several clients.
func dialFromAddr(t testing.TB, local, addr string) *client {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, local, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &client{t: t, conn: nc, br: bufio.NewReader(nc), fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID("net-test"))}
}

func mustServe(t testing.TB, c *client, what string) {
	t.Helper()
	if _, err := c.roundTrip(metadataReq(), 1); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestMaxConnections: past max.connections a connection is accepted and closed at once, the
// refusal is counted, and a slot freed by a closing connection is usable again.
func TestMaxConnections(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := startServer(t, Options{MaxConnections: 2, Registerer: reg}, nil)
	a, b := dial(t, srv.addr), dial(t, srv.addr)
	mustServe(t, a, "first connection")
	mustServe(t, b, "second connection")
	over := dial(t, srv.addr)
	over.send(metadataReq(), 1)
	over.expectClosed("connection over max.connections")
	if n := metricValue(t, reg, "gregor_network_connections_refused_total", "limit", "max.connections", "listener", "PLAINTEXT"); n != 1 {
		t.Fatalf("refused counter %v, want 1", n)
	}
	_ = a.conn.Close()
	eventually(t, "the closed connection to be forgotten", func() bool {
		return metricValue(t, reg, "gregor_network_open_connections", "listener", "PLAINTEXT") == 1
	})
	mustServe(t, dial(t, srv.addr), "a connection after one closed")
	mustServe(t, b, "the surviving connection")
}

// TestMaxConnectionsPerIP: each client address gets max.connections.per.ip, an override gives one
// address more, and other addresses are not affected by a full one.
func TestMaxConnectionsPerIP(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := startServer(t, Options{MaxConnectionsPerIP: 1, MaxConnectionsPerIPOverrides: map[string]int{"127.0.0.3": 3}, Registerer: reg}, nil)
	mustServe(t, dialFromAddr(t, "127.0.0.2", srv.addr), "first from .2")
	over := dialFromAddr(t, "127.0.0.2", srv.addr)
	over.send(metadataReq(), 1)
	over.expectClosed("second connection from .2")
	for i := 0; i < 3; i++ {
		mustServe(t, dialFromAddr(t, "127.0.0.3", srv.addr), "overridden address")
	}
	over3 := dialFromAddr(t, "127.0.0.3", srv.addr)
	over3.send(metadataReq(), 1)
	over3.expectClosed("fourth connection from the overridden address")
	mustServe(t, dialFromAddr(t, "127.0.0.4", srv.addr), "another address")
	if n := metricValue(t, reg, "gregor_network_connections_refused_total", "limit", "max.connections.per.ip"); n != 2 {
		t.Fatalf("refused counter %v, want 2", n)
	}
}

// TestMaxConnectionsPerIPZero: Kafka's max.connections.per.ip=0 admits only overridden addresses,
// and is refused without an override.
func TestMaxConnectionsPerIPZero(t *testing.T) {
	srv := startServer(t, Options{MaxConnectionsPerIP: NoConnections, MaxConnectionsPerIPOverrides: map[string]int{"localhost": 1}}, nil)
	mustServe(t, dialFromAddr(t, "127.0.0.1", srv.addr), "overridden localhost")
	c := dialFromAddr(t, "127.0.0.2", srv.addr)
	c.send(metadataReq(), 1)
	c.expectClosed("an address without an override")

	s := NewServer(Options{Listeners: []ListenerSpec{{Name: "P", Addr: "127.0.0.1:0"}}, MaxConnectionsPerIP: NoConnections}, &testHandler{})
	if err := s.Start(); err == nil {
		_ = s.Close()
		t.Fatal("max.connections.per.ip=0 without overrides accepted")
	}
}

// TestProtectedListener: with several listeners the inter-broker one is exempt from
// max.connections (KIP-402); the client listener is not.
func TestProtectedListener(t *testing.T) {
	srv := startServer(t, Options{MaxConnections: 1, ProtectedListener: "BROKER", Listeners: []ListenerSpec{
		{Name: "CLIENT", Addr: "127.0.0.1:0"}, {Name: "BROKER", Addr: "127.0.0.1:0"}}}, nil)
	brokerAddr := srv.Addr("BROKER").String()
	mustServe(t, dial(t, srv.addr), "first client connection")
	for i := 0; i < 3; i++ {
		mustServe(t, dial(t, brokerAddr), "inter-broker connection past max.connections")
	}
	c := dial(t, srv.addr)
	c.send(metadataReq(), 1)
	c.expectClosed("client connection past max.connections")
}

// TestMemoryPoolBoundsRequestBytes: with queued.max.request.bytes full, the next request waits —
// its handler is not called and its bytes are not reserved — until memory is released, and the
// wait shows in the metrics.
func TestMemoryPoolBoundsRequestBytes(t *testing.T) {
	reg := prometheus.NewRegistry()
	release := make(chan struct{})
	var calls atomic.Int32
	srv := startServer(t, Options{MaxRequestBytes: 4096, QueuedMaxRequestBytes: 4096, Registerer: reg},
		func(ctx context.Context, r *Request) (kmsg.Response, error) {
			if calls.Add(1) == 1 {
				<-release
			}
			return r.Body.ResponseKind(), nil
		})
	big := func() *kmsg.MetadataRequest {
		req := metadataReq()
		name := string(make([]byte, 2500))
		req.Topics = []kmsg.MetadataRequestTopic{{Topic: &name}}
		return req
	}
	a, b := dial(t, srv.addr), dial(t, srv.addr)
	reqA, reqB := big(), big()
	a.send(reqA, 1)
	eventually(t, "the first request to be handled", func() bool { return calls.Load() == 1 })
	used := metricValue(t, reg, "gregor_network_request_memory_used_bytes")
	if used < 2500 || used > 4096 {
		t.Fatalf("pool in use %v bytes, want the first frame's size", used)
	}
	b.send(reqB, 1)
	eventually(t, "the second request to wait for memory", func() bool {
		return metricValue(t, reg, "gregor_network_request_memory_waiting_requests") == 1
	})
	if calls.Load() != 1 {
		t.Fatal("the second request was handled while the pool was full")
	}
	close(release)
	if _, _, err := a.read(reqA); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.read(reqB); err != nil {
		t.Fatal(err)
	}
	if w := metricValue(t, reg, "gregor_network_request_memory_waits_total"); w != 1 {
		t.Fatalf("waits %v, want 1", w)
	}
	eventually(t, "the pool to empty", func() bool { return metricValue(t, reg, "gregor_network_request_memory_used_bytes") == 0 })
	if c := metricValue(t, reg, "gregor_network_request_memory_capacity_bytes"); c != 4096 {
		t.Fatalf("capacity %v", c)
	}
}

// TestPoolSmallerThanMaxRequestRefused: a pool that cannot hold one largest request is a
// configuration error, as in Kafka.
func TestPoolSmallerThanMaxRequestRefused(t *testing.T) {
	s := NewServer(Options{Listeners: []ListenerSpec{{Name: "P", Addr: "127.0.0.1:0"}}, MaxRequestBytes: 1000, QueuedMaxRequestBytes: 999}, &testHandler{})
	if err := s.Start(); err == nil {
		_ = s.Close()
		t.Fatal("queued.max.request.bytes below socket.request.max.bytes accepted")
	}
}

// TestRequestQueue: with queued.max.requests busy handlers, the next request waits; a handler
// that parks (Parked) leaves the queue and lets it in.
func TestRequestQueue(t *testing.T) {
	reg := prometheus.NewRegistry()
	release := make(chan struct{})
	parked := make(chan struct{})
	var calls atomic.Int32
	srv := startServer(t, Options{QueuedMaxRequests: 1, Registerer: reg}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		switch r.CorrelationID {
		case 1: // busy: holds the queue's only slot
			calls.Add(1)
			<-release
		case 2: // parks, then waits
			calls.Add(1)
			Parked(ctx)
			Parked(ctx) // twice is harmless
			<-parked
		default:
			calls.Add(1)
		}
		return r.Body.ResponseKind(), nil
	})
	a, b, c := dial(t, srv.addr), dial(t, srv.addr), dial(t, srv.addr)
	reqA := metadataReq()
	a.send(reqA, 1)
	eventually(t, "the first request", func() bool { return calls.Load() == 1 })
	b.corr = 1
	reqB := metadataReq()
	b.send(reqB, 1) // correlation id 2
	eventually(t, "the second request to wait for the queue", func() bool {
		return metricValue(t, reg, "gregor_network_request_queue_waits_total") == 1
	})
	if calls.Load() != 1 {
		t.Fatal("a request was handled past queued.max.requests")
	}
	close(release)
	if _, _, err := a.read(reqA); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second request", func() bool { return calls.Load() == 2 })
	// The second request parked: the queue is free for a third while it waits.
	c.corr = 2
	if _, err := c.roundTrip(metadataReq(), 1); err != nil { // correlation id 3
		t.Fatalf("request while another is parked: %v", err)
	}
	close(parked)
	if _, _, err := b.read(reqB); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the queue to empty", func() bool { return metricValue(t, reg, "gregor_network_request_queue_size") == 0 })
}

// TestLimitClosesAreCounted: connections closed for idleness and for an oversized frame show in
// connections_closed_by_limit_total.
func TestLimitClosesAreCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := startServer(t, Options{IdleTimeout: 100 * time.Millisecond, MaxRequestBytes: 1000, Registerer: reg}, nil)
	c := dial(t, srv.addr)
	if err := c.write([]byte{0, 0, 0x10, 0}); err != nil { // a 4096-byte frame
		t.Fatal(err)
	}
	c.expectClosed("oversized frame")
	dial(t, srv.addr).expectClosed("idle connection")
	if n := metricValue(t, reg, "gregor_network_connections_closed_by_limit_total", "limit", "socket.request.max.bytes"); n != 1 {
		t.Fatalf("request-size closes %v", n)
	}
	eventually(t, "the idle close to be counted", func() bool {
		return metricValue(t, reg, "gregor_network_connections_closed_by_limit_total", "limit", "connections.max.idle.ms") >= 1
	})
}

// TestInflightLimitIsCounted: a connection that reaches its in-flight bound stops being read,
// and the stop is counted.
func TestInflightLimitIsCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	release := make(chan struct{})
	srv := startServer(t, Options{MaxInFlightPerConn: 2, Registerer: reg, Ordered: []int16{}}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		<-release
		return r.Body.ResponseKind(), nil
	})
	c := dial(t, srv.addr)
	var reqs []*kmsg.MetadataRequest
	for i := 0; i < 3; i++ {
		reqs = append(reqs, metadataReq())
		c.send(reqs[i], 1)
	}
	eventually(t, "the reader to stop at the in-flight bound", func() bool {
		return metricValue(t, reg, "gregor_network_inflight_limit_waits_total") == 1
	})
	close(release)
	for i := range reqs {
		if _, _, err := c.read(reqs[i]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMemoryPoolOrderAndCancel: waiters are served in arrival order (a large one is not passed
// by small ones), a cancelled waiter leaves without reserving, and used never exceeds capacity.
func TestMemoryPoolOrderAndCancel(t *testing.T) {
	p := newMemoryPool(100, nil)
	ctx := context.Background()
	if err := p.acquire(ctx, 80); err != nil {
		t.Fatal(err)
	}
	order := make(chan int64, 3)
	wait := func(n int64) {
		go func() {
			if err := p.acquire(ctx, n); err == nil {
				order <- n
			}
		}()
	}
	waiters := func() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.waiters) }
	wait(60) // does not fit: waits
	eventually(t, "the large waiter", func() bool { return waiters() == 1 })
	wait(10) // would fit, but must not pass the large one
	eventually(t, "the small waiter", func() bool { return waiters() == 2 })
	if p.inUse() != 80 {
		t.Fatalf("in use %d: the small waiter passed the large one", p.inUse())
	}
	cctx, cancel := context.WithCancel(ctx)
	gone := make(chan error, 1)
	go func() { gone <- p.acquire(cctx, 5) }()
	eventually(t, "the cancelled waiter", func() bool { return waiters() == 3 })
	cancel()
	if err := waitFor(t, gone, "cancelled acquire"); err == nil {
		t.Fatal("cancelled acquire succeeded")
	}
	if p.inUse() != 80 {
		t.Fatalf("in use %d with everyone waiting, want 80", p.inUse())
	}
	p.release(80)
	if got := waitFor(t, order, "a grant") + waitFor(t, order, "a grant"); got != 70 {
		t.Fatalf("granted %d bytes, want both waiters (70)", got)
	}
	if p.inUse() != 70 {
		t.Fatalf("in use %d, want 70", p.inUse())
	}
	// A frame larger than the pool (impossible after validation) waits for an empty pool.
	p.release(70)
	if err := p.acquire(ctx, 500); err != nil || p.inUse() != 100 {
		t.Fatalf("oversized acquire: %v, in use %d", err, p.inUse())
	}
	p.release(500)
	if p.inUse() != 0 {
		t.Fatalf("in use %d after releasing everything", p.inUse())
	}
}

// TestOrderedWaitersDoNotHoldTheQueue: ordered requests (Produce) waiting behind a parked one on
// their connection do not occupy queued.max.requests, so other connections are still served —
// the follower fetches an acks=all produce waits for must get in.
func TestOrderedWaitersDoNotHoldTheQueue(t *testing.T) {
	release := make(chan struct{})
	parked := make(chan struct{}, 1)
	srv := startServer(t, Options{QueuedMaxRequests: 1}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		if r.Key == 0 && r.CorrelationID == 1 {
			Parked(ctx)
			parked <- struct{}{}
			<-release
		}
		return r.Body.ResponseKind(), nil
	})
	p := dial(t, srv.addr)
	var reqs []*kmsg.ProduceRequest
	for i := 0; i < 3; i++ {
		reqs = append(reqs, kmsg.NewPtrProduceRequest())
		p.send(reqs[i], 9)
	}
	waitFor(t, parked, "the first produce to park")
	if _, err := dial(t, srv.addr).roundTrip(metadataReq(), 1); err != nil {
		t.Fatalf("a request on another connection while produces wait in order: %v", err)
	}
	close(release)
	for i, req := range reqs {
		if corr, _, err := p.read(req); err != nil || corr != int32(i+1) {
			t.Fatalf("produce %d: corr %d, %v", i+1, corr, err)
		}
	}
}
