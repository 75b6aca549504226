package network

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestIdleTimeoutClosesIdleConnection: a connection with no traffic after its last response
// is closed (within expectClosed's deadline). That it is not closed before IdleTimeout is
// TestIdleWait's subject; how long after IdleTimeout the close comes is BenchmarkIdleClose's.
func TestIdleTimeoutClosesIdleConnection(t *testing.T) {
	srv := startServer(t, Options{IdleTimeout: 200 * time.Millisecond}, nil)
	c := dial(t, srv.addr)
	if _, err := c.roundTrip(metadataReq(), 1); err != nil {
		t.Fatal(err)
	}
	c.expectClosed("idle connection")
}

// TestIdleWait: the reader's decision, given how long the connection has been quiet. Quiet
// times are set relative to now with an IdleTimeout of an hour, so scheduling delays cannot
// change the outcome.
func TestIdleWait(t *testing.T) {
	const idle = time.Hour
	for _, tc := range []struct {
		name     string
		quiet    time.Duration
		inFlight bool
		wantIdle bool
	}{
		{"just active", 0, false, false},
		{"quiet for half the timeout", idle / 2, false, false},
		{"quiet for twice the timeout", 2 * idle, false, true},
		{"request in flight, quiet for ages", 100 * idle, true, false},
	} {
		c := &conn{idle: idle, sem: make(chan struct{}, 1)}
		if tc.inFlight {
			c.sem <- struct{}{}
		}
		c.lastActive.Store(time.Now().Add(-tc.quiet).UnixNano())
		wait, isIdle := c.idleWait()
		if isIdle != tc.wantIdle {
			t.Errorf("%s: idle %v, want %v", tc.name, isIdle, tc.wantIdle)
			continue
		}
		switch {
		case tc.inFlight && wait != idle:
			t.Errorf("%s: wait %v, want a full %v window", tc.name, wait, idle)
		case !tc.inFlight && !tc.wantIdle && (wait <= 0 || wait > idle-tc.quiet):
			t.Errorf("%s: wait %v, want the rest of the window (0, %v]", tc.name, wait, idle-tc.quiet)
		}
	}
}

// closedWhenIdle opens a connection that sends nothing and reports when the server closes it:
// the event, shared by every connection of a server, that an IdleTimeout has passed.
func closedWhenIdle(t *testing.T, addr string) <-chan error {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	out := make(chan error, 1)
	go func() { // ends when the server closes the connection or the deadline passes
		_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err := io.Copy(io.Discard, nc)
		if err != nil && !isClosedErr(err) {
			out <- fmt.Errorf("quiet connection not closed: %w", err)
			return
		}
		out <- nil
	}()
	return out
}

// TestIdleTimeoutSparesBusyConnections: a request in flight longer than IdleTimeout keeps its
// connection, and so does a connection with requests arriving more often than IdleTimeout.
// "Longer than IdleTimeout" is not slept: a quiet connection opened meanwhile is closed for
// idleness, which proves a whole idle window has passed.
func TestIdleTimeoutSparesBusyConnections(t *testing.T) {
	const idle = time.Second // a stall this long between two back-to-back requests would be needed to flake
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	srv := startServer(t, Options{IdleTimeout: idle}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		if r.CorrelationID == 1 {
			started <- struct{}{}
			<-release
		}
		return r.Body.ResponseKind(), nil
	})
	c := dial(t, srv.addr)
	req := metadataReq()
	c.send(req, 1)
	waitFor(t, started, "long request")
	if err := waitFor(t, closedWhenIdle(t, srv.addr), "a quiet connection to be closed for idleness"); err != nil {
		t.Fatal(err)
	}
	close(release)
	if corr, _, err := c.read(req); err != nil || corr != 1 {
		t.Fatalf("long request's response: corr %d, %v", corr, err)
	}
	// Back-to-back traffic until a quiet connection opened at its start is closed for idleness.
	quiet := closedWhenIdle(t, srv.addr)
	for sent := 0; ; sent++ {
		select {
		case err := <-quiet:
			if err != nil {
				t.Fatal(err)
			}
		default:
			if _, err := c.roundTrip(metadataReq(), 1); err != nil {
				t.Fatalf("request %d of steady traffic: %v", sent, err)
			}
			continue
		}
		break
	}
	if _, err := c.roundTrip(metadataReq(), 1); err != nil {
		t.Fatalf("busy connection closed for idleness: %v", err)
	}
	c.expectClosed("connection idle after the traffic stopped")
}

// TestCloseCancelsLongPoll: Close returns while a handler is parked in a long poll, because the
// handler's context is cancelled; the client's connection is closed.
func TestCloseCancelsLongPoll(t *testing.T) {
	parked := make(chan struct{})
	cancelled := make(chan error, 1)
	srv := startServer(t, Options{}, func(ctx context.Context, r *Request) (kmsg.Response, error) {
		close(parked)
		<-ctx.Done()
		cancelled <- ctx.Err()
		return nil, ctx.Err()
	})
	c := dial(t, srv.addr)
	c.send(kmsg.NewPtrFetchRequest(), 11)
	waitFor(t, parked, "handler parked")
	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	if err := waitFor(t, closed, "Close to return"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := waitFor(t, cancelled, "handler context cancelled"); err == nil {
		t.Fatal("handler context not cancelled")
	}
	c.expectClosed("after Close")
	if _, err := net.DialTimeout("tcp", srv.addr, time.Second); err == nil {
		t.Fatal("listener still accepting after Close")
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestStartErrors: bad options fail Start with a message naming the problem.
func TestStartErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no listeners", Options{}, "no listeners"},
		{"duplicate listener", Options{Listeners: []ListenerSpec{{"A", "127.0.0.1:0"}, {"A", "127.0.0.1:0"}}}, "name used twice"},
		{"port in use", Options{Listeners: []ListenerSpec{{"A", "127.0.0.1:0"}, {"B", taken.Addr().String()}}}, "listener B"},
		{"unknown key", Options{Listeners: []ListenerSpec{{"A", "127.0.0.1:0"}}, Served: []APIRange{{Key: 9999, Max: 1}}}, "unknown to the codec"},
		{"version above codec", Options{Listeners: []ListenerSpec{{"A", "127.0.0.1:0"}}, Served: []APIRange{{Key: 3, Max: 99}}}, "outside"},
		{"min above max", Options{Listeners: []ListenerSpec{{"A", "127.0.0.1:0"}}, Served: []APIRange{{Key: 3, Min: 5, Max: 4}}}, "outside"},
		{"key twice", Options{Listeners: []ListenerSpec{{"A", "127.0.0.1:0"}}, Served: []APIRange{{Key: 3, Max: 4}, {Key: 3, Max: 4}}}, "twice"},
	} {
		s := NewServer(tc.o, &testHandler{})
		err := s.Start()
		_ = s.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Start error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestMetrics: requests, latency, bytes and open connections are recorded when a Registerer
// is given.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := startServer(t, Options{Registerer: reg}, nil)
	c := dial(t, srv.addr)
	for i := 0; i < 3; i++ {
		if _, err := c.roundTrip(metadataReq(), 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.roundTrip(kmsg.NewPtrApiVersionsRequest(), 2); err != nil {
		t.Fatal(err)
	}
	wants := map[string]float64{
		"gregor_network_requests_total,api=Metadata":              3,
		"gregor_network_requests_total,api=ApiVersions":           1,
		"gregor_network_request_duration_seconds,api=Metadata":    3,
		"gregor_network_open_connections,listener=PLAINTEXT":      1,
		"gregor_network_request_duration_seconds,api=ApiVersions": 1,
	}
	// A request's duration is observed once its response is written, which the client can read
	// first: wait for the figures (a condition polled with a deadline), then check them.
	var got map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		got = gather(t, reg)
		reached := true
		for key, want := range wants {
			reached = reached && got[key] >= want
		}
		if reached || time.Now().After(deadline) {
			break
		}
	}
	for key, want := range wants {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if got["gregor_network_received_bytes_total"] <= 0 || got["gregor_network_sent_bytes_total"] <= 0 {
		t.Errorf("byte counters: %v", got)
	}
	// A second server on the same registry shares the series instead of failing.
	srv2 := startServer(t, Options{Registerer: reg}, nil)
	if _, err := dial(t, srv2.addr).roundTrip(metadataReq(), 1); err != nil {
		t.Fatal(err)
	}
	if n := gather(t, reg)["gregor_network_requests_total,api=Metadata"]; n != 4 {
		t.Errorf("shared Metadata counter %v, want 4", n)
	}
	// Closing connections brings the gauge back down.
	_ = srv.Close()
	_ = srv2.Close()
	if n := gather(t, reg)["gregor_network_open_connections,listener=PLAINTEXT"]; n != 0 {
		t.Errorf("open connections after Close: %v", n)
	}
}

// gather flattens reg into "name,label=value" -> value (sample count for histograms).
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.Counter != nil:
				got[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				got[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return got
}
