package broker

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gregor-broker/gregor/broker/clusterview"
	"github.com/gregor-broker/gregor/broker/topicstats"
)

// newTraffic makes the per-topic traffic counters; a topic's series go when the metadata cache
// no longer has it (deleted).
func (b *Broker) newTraffic() *topicstats.Stats {
	s := topicstats.New()
	s.Known = func(topic string) bool {
		_, ok := b.cache.Snapshot().Topic(topic)
		return ok
	}
	return s
}

// startMetrics serves, on gregor.metrics.listen (off when empty), the broker's registry in
// Prometheus' text format at /metrics — Gregor's own series and Kafka's names (docs/metrics.md)
// — and the cluster page at / (broker/clusterview). Each broker has its own registry so that
// several brokers can live in one test process.
func (b *Broker) startMetrics() error {
	if b.cfg.MetricsListen == "" {
		return nil
	}
	if err := b.registry.Register(collectors.NewGoCollector()); err != nil {
		return fmt.Errorf("register go metrics: %w", err)
	}
	if err := b.registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return fmt.Errorf("register process metrics: %w", err)
	}
	if err := b.registry.Register(b.traffic); err != nil {
		return fmt.Errorf("register topic metrics: %w", err)
	}
	b.view = clusterview.New(clusterview.Options{
		BrokerID:  b.cfg.BrokerID,
		ClusterID: b.clusterID,
		Metadata:  b.cache.Snapshot,
		Bootstrap: func() string { return clusterview.LoopbackAddr(b.server.Addr(b.cfg.InterBrokerListenerName)) },
		Traffic:   b.traffic,
		Logger:    b.log,
	})
	if err := b.registry.Register(&kafkaCollector{b: b, view: b.view}); err != nil {
		return fmt.Errorf("register kafka metrics: %w", err)
	}
	ln, err := net.Listen("tcp", b.cfg.MetricsListen)
	if err != nil {
		return fmt.Errorf("gregor.metrics.listen %s: %w", b.cfg.MetricsListen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(b.registry, promhttp.HandlerOpts{}))
	mux.Handle("/", b.view)
	if b.faults != nil {
		mux.Handle("/faults", faultsHandler(b.faults)) // the test seam (faults.go)
	}
	if b.cfg.DebugPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	b.metricsSrv = &http.Server{Handler: mux}
	b.log.WithField("addr", ln.Addr().String()).Info("serving /metrics and the cluster page at /")
	go func() { // stopped by closeAll's metricsSrv.Close
		if err := b.metricsSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.log.WithError(err).Error("metrics server stopped")
		}
	}()
	return nil
}
