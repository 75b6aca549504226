package network

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metrics are the server's Prometheus series. A nil *metrics (no Registerer) records nothing.
// The per-key children are resolved once at start so the request path does no label lookups.
type metrics struct {
	requests []prometheus.Counter  // by API key; nil for keys not served
	latency  []prometheus.Observer // by API key: frame read -> response written
	bytesIn  prometheus.Counter
	bytesOut prometheus.Counter
	conns    *prometheus.GaugeVec // by listener
}

func newMetrics(reg prometheus.Registerer, tbl versionTable) (*metrics, error) {
	requests, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gregor", Subsystem: "network", Name: "requests_total",
		Help: "Requests received, by API.",
	}, []string{"api"}))
	if err != nil {
		return nil, err
	}
	latency, err := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "gregor", Subsystem: "network", Name: "request_duration_seconds",
		Help:    "Time from a request's last byte read to its response written, by API.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18), // 0.5 ms .. ~65 s (long polls)
	}, []string{"api"}))
	if err != nil {
		return nil, err
	}
	bytesIn, err := register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gregor", Subsystem: "network", Name: "received_bytes_total",
		Help: "Bytes read from client sockets.",
	}))
	if err != nil {
		return nil, err
	}
	bytesOut, err := register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gregor", Subsystem: "network", Name: "sent_bytes_total",
		Help: "Bytes written to client sockets.",
	}))
	if err != nil {
		return nil, err
	}
	conns, err := register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "gregor", Subsystem: "network", Name: "open_connections",
		Help: "Open client connections, by listener.",
	}, []string{"listener"}))
	if err != nil {
		return nil, err
	}
	m := &metrics{
		requests: make([]prometheus.Counter, len(tbl)),
		latency:  make([]prometheus.Observer, len(tbl)),
		bytesIn:  bytesIn, bytesOut: bytesOut, conns: conns,
	}
	for k, r := range tbl {
		if r.ok {
			name := kmsg.NameForKey(int16(k))
			m.requests[k] = requests.WithLabelValues(name)
			m.latency[k] = latency.WithLabelValues(name)
		}
	}
	return m, nil
}

// register registers c, or returns the equal collector already registered (a second Server on
// the same registry, as in tests, shares the series).
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("register network metrics: %w", err)
	}
	return c, nil
}

func (m *metrics) request(key int16) {
	if m != nil {
		m.requests[key].Inc() // key was gated against the table, so the child exists
	}
}

func (m *metrics) done(key int16, received time.Time) {
	if m != nil {
		m.latency[key].Observe(time.Since(received).Seconds())
	}
}

func (m *metrics) in(n int) {
	if m != nil && n > 0 {
		m.bytesIn.Add(float64(n))
	}
}

func (m *metrics) out(n int64) {
	if m != nil && n > 0 {
		m.bytesOut.Add(float64(n))
	}
}

func (m *metrics) connOpened(listener string, delta float64) {
	if m != nil {
		m.conns.WithLabelValues(listener).Add(delta)
	}
}
