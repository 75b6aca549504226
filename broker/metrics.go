package broker

import (
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// startMetrics serves the broker's registry in Prometheus' text format on
// gregor.metrics.listen (off when empty). Each broker has its own registry so that several
// brokers can live in one test process.
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
	ln, err := net.Listen("tcp", b.cfg.MetricsListen)
	if err != nil {
		return fmt.Errorf("gregor.metrics.listen %s: %w", b.cfg.MetricsListen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(b.registry, promhttp.HandlerOpts{}))
	b.metricsSrv = &http.Server{Handler: mux}
	b.log.WithField("addr", ln.Addr().String()).Info("serving metrics at /metrics")
	go func() { // stopped by closeAll's metricsSrv.Close
		if err := b.metricsSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.log.WithError(err).Error("metrics server stopped")
		}
	}()
	return nil
}
