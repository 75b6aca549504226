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

	// Limits: every time one is hit, an operator sees it.
	refused        *prometheus.CounterVec // connections accepted then closed, by listener and limit
	closedBy       *prometheus.CounterVec // connections closed by a limit (idle, request size)
	poolCapG       prometheus.Gauge
	poolUsedG      prometheus.Gauge
	poolWaitingNG  prometheus.Gauge
	poolWaitsG     prometheus.Counter
	queueCapG      prometheus.Gauge
	queueLenG      prometheus.Gauge
	queueWaitsG    prometheus.Counter
	inflightWaitsG prometheus.Counter
	fdExhaustedG   prometheus.Counter // accepts that failed for want of file descriptors

	kafka *kafkaMetrics // the same events under Kafka's JMX exporter names (kafkametrics.go)
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
	if err := m.registerLimits(reg); err != nil {
		return nil, err
	}
	if m.kafka, err = newKafkaMetrics(reg, tbl); err != nil {
		return nil, err
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

// initLabels creates the series of every listener and limit at zero, so that each is exported
// (and alerts on it work) before its first event.
func (m *metrics) initLabels(listeners []ListenerSpec) {
	if m == nil {
		return
	}
	for _, l := range listeners {
		m.conns.WithLabelValues(l.Name)
		m.refused.WithLabelValues(l.Name, limitMaxConnections)
		m.refused.WithLabelValues(l.Name, limitMaxConnectionsPerIP)
	}
	m.closedBy.WithLabelValues(limitIdle)
	m.closedBy.WithLabelValues(limitRequestSize)
}

// registerLimits creates the series of the limits (connection quotas, memory pool, request
// queue, in-flight requests per connection).
func (m *metrics) registerLimits(reg prometheus.Registerer) error {
	var err error
	reg1 := func(dst *prometheus.Gauge, name, help string) {
		if err == nil {
			*dst, err = register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "gregor", Subsystem: "network", Name: name, Help: help}))
		}
	}
	cnt1 := func(dst *prometheus.Counter, name, help string) {
		if err == nil {
			*dst, err = register(reg, prometheus.NewCounter(prometheus.CounterOpts{Namespace: "gregor", Subsystem: "network", Name: name, Help: help}))
		}
	}
	if m.refused, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gregor", Subsystem: "network", Name: "connections_refused_total",
		Help: "Connections accepted and closed at once because a limit was reached, by listener and limit (max.connections, max.connections.per.ip).",
	}, []string{"listener", "limit"})); err != nil {
		return err
	}
	if m.closedBy, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gregor", Subsystem: "network", Name: "connections_closed_by_limit_total",
		Help: "Connections closed by a limit, by limit (connections.max.idle.ms, socket.request.max.bytes).",
	}, []string{"limit"})); err != nil {
		return err
	}
	reg1(&m.poolCapG, "request_memory_capacity_bytes", "queued.max.request.bytes: the request memory pool's size (0 = unbounded).")
	reg1(&m.poolUsedG, "request_memory_used_bytes", "Bytes of request frames reserved in the memory pool now.")
	reg1(&m.poolWaitingNG, "request_memory_waiting_requests", "Requests waiting for memory in the pool now (their connections are not read meanwhile).")
	cnt1(&m.poolWaitsG, "request_memory_waits_total", "Requests that had to wait for memory in the pool.")
	reg1(&m.queueCapG, "request_queue_capacity", "queued.max.requests.")
	reg1(&m.queueLenG, "request_queue_size", "Requests read and being handled now, not parked (counted against queued.max.requests).")
	cnt1(&m.queueWaitsG, "request_queue_waits_total", "Requests that waited because queued.max.requests were already in the queue.")
	cnt1(&m.fdExhaustedG, "accept_fd_exhausted_total", "Connections the kernel could not hand over because the process is out of file descriptors (EMFILE/ENFILE): raise RLIMIT_NOFILE or reduce open segments.")
	cnt1(&m.inflightWaitsG, "inflight_limit_waits_total", "Times a connection's reader stopped because the connection had its maximum of requests in flight.")
	return err
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

// request counts a request; what it returns times the request's answer (done).
func (m *metrics) request(key, version int16, body kmsg.Request) reqMetrics {
	if m == nil {
		return reqMetrics{}
	}
	m.requests[key].Inc() // key was gated against the table, so the child exists
	return m.kafka.request(key, version, body)
}

func (m *metrics) done(key int16, received time.Time, km reqMetrics) {
	if m != nil {
		m.latency[key].Observe(time.Since(received).Seconds())
		km.done(received)
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

func (m *metrics) connRefused(listener, limit string) {
	if m != nil {
		m.refused.WithLabelValues(listener, limit).Inc()
	}
}

func (m *metrics) connClosedBy(limit string) {
	if m != nil {
		m.closedBy.WithLabelValues(limit).Inc()
	}
}

func (m *metrics) poolCapacity(n int64) {
	if m != nil {
		m.poolCapG.Set(float64(max(n, 0)))
	}
}

func (m *metrics) poolUsed(n int64) {
	if m != nil {
		m.poolUsedG.Set(float64(n))
	}
}

// poolWaiting sets the number of waiters; newWait counts one more wait.
func (m *metrics) poolWaiting(n int, newWait bool) {
	if m != nil {
		m.poolWaitingNG.Set(float64(n))
		if newWait {
			m.poolWaitsG.Inc()
		}
	}
}

func (m *metrics) queueCapacity(n int) {
	if m != nil {
		m.queueCapG.Set(float64(n))
	}
}

func (m *metrics) queueSize(n int) {
	if m != nil {
		m.queueLenG.Set(float64(n))
		m.kafka.queueSize.Set(float64(n))
	}
}

func (m *metrics) queueWait() {
	if m != nil {
		m.queueWaitsG.Inc()
	}
}

func (m *metrics) inflightWait() {
	if m != nil {
		m.inflightWaitsG.Inc()
	}
}
