package network

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestIdleTimeoutClosesIdleConnection: a connection with no traffic is closed after
// IdleTimeout, not before.
func TestIdleTimeoutClosesIdleConnection(t *testing.T) {
	const idle = 200 * time.Millisecond
	srv := startServer(t, Options{IdleTimeout: idle}, nil)
	c := dial(t, srv.addr)
	start := time.Now()
	if _, err := c.roundTrip(metadataReq(), 1); err != nil {
		t.Fatal(err)
	}
	c.expectClosed("idle connection")
	if el := time.Since(start); el < idle {
		t.Fatalf("closed after %v, before the idle timeout %v", el, idle)
	}
}

// TestIdleTimeoutSparesBusyConnections: a request in flight longer than IdleTimeout keeps its
// connection, and so does a connection with requests arriving more often than IdleTimeout.
func TestIdleTimeoutSparesBusyConnections(t *testing.T) {
	const idle = 300 * time.Millisecond
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
	time.Sleep(3 * idle) // the event under test is the absence of an idle close during this window
	close(release)
	if corr, _, err := c.read(req); err != nil || corr != 1 {
		t.Fatalf("long request's response: corr %d, %v", corr, err)
	}
	// Steady traffic at a third of the idle timeout keeps the connection past several timeouts.
	for i := 0; i < 6; i++ {
		time.Sleep(idle / 3)
		if _, err := c.roundTrip(metadataReq(), 1); err != nil {
			t.Fatalf("request %d of steady traffic: %v", i, err)
		}
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
	got := gather(t, reg)
	for key, want := range map[string]float64{
		"gregor_network_requests_total,api=Metadata":              3,
		"gregor_network_requests_total,api=ApiVersions":           1,
		"gregor_network_request_duration_seconds,api=Metadata":    3,
		"gregor_network_open_connections,listener=PLAINTEXT":      1,
		"gregor_network_request_duration_seconds,api=ApiVersions": 1,
	} {
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
