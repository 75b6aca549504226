package network

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka's request metrics under the names its JMX exporter setups give them, so that Kafka
// dashboards work on Gregor unchanged:
//
//   - kafka_network_requestmetrics_requests_total{request,version}: RequestsPerSec, by API
//     name and version (created on a version's first request, as Kafka does);
//   - kafka_network_requestmetrics_totaltimems{request,quantile}: TotalTimeMs, frame read to
//     response written, in milliseconds, with Kafka's percentiles;
//   - kafka_network_requestchannel_requestqueuesize: RequestQueueSize, requests read and
//     being handled (queued.max.requests' count).
//
// As in Kafka, a Fetch is counted as "Fetch" and also as "FetchConsumer" or "FetchFollower"
// (by its replica id), so dashboards can tell consumers from replication.

const (
	fetchKey            = 1
	consumerFetchMetric = "FetchConsumer"
	followerFetchMetric = "FetchFollower"
)

// kafkaRequestMetric is one request name's series.
type kafkaRequestMetric struct {
	name      string
	requests  *prometheus.CounterVec
	byVersion []atomic.Pointer[prometheus.Counter] // index: version; filled on first use
	totalTime prometheus.Observer
}

func (k *kafkaRequestMetric) count(version int16) {
	if version < 0 || int(version) >= len(k.byVersion) {
		return
	}
	slot := &k.byVersion[version]
	c := slot.Load()
	if c == nil {
		n := k.requests.WithLabelValues(k.name, strconv.Itoa(int(version)))
		slot.CompareAndSwap(nil, &n)
		c = slot.Load()
	}
	(*c).Inc()
}

// kafkaMetrics are the Kafka-named request series, resolved per API key at start.
type kafkaMetrics struct {
	byKey         []*kafkaRequestMetric // nil for keys not served
	fetchConsumer *kafkaRequestMetric
	fetchFollower *kafkaRequestMetric
	queueSize     prometheus.Gauge
}

// reqMetrics is what one request records when it is answered: one or two names' total time.
type reqMetrics struct {
	first, second *kafkaRequestMetric
}

func newKafkaMetrics(reg prometheus.Registerer, tbl versionTable) (*kafkaMetrics, error) {
	requests, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafka_network_requestmetrics_requests_total",
		Help: "Requests received, by API name and version (Kafka's RequestMetrics RequestsPerSec).",
	}, []string{"request", "version"}))
	if err != nil {
		return nil, err
	}
	totalTime, err := register(reg, prometheus.NewSummaryVec(prometheus.SummaryOpts{
		Name:       "kafka_network_requestmetrics_totaltimems",
		Help:       "Milliseconds from a request's last byte read to its response written, by API name (Kafka's RequestMetrics TotalTimeMs), over the last 5 minutes.",
		Objectives: map[float64]float64{0.5: 0.05, 0.75: 0.02, 0.95: 0.01, 0.98: 0.005, 0.99: 0.001, 0.999: 0.0001},
		MaxAge:     5 * time.Minute,
	}, []string{"request"}))
	if err != nil {
		return nil, err
	}
	queue, err := register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kafka_network_requestchannel_requestqueuesize",
		Help: "Requests read and being handled now, not parked in a long poll or acks=all wait (Kafka's RequestChannel RequestQueueSize; bounded by queued.max.requests).",
	}))
	if err != nil {
		return nil, err
	}
	mk := func(name string, maxVersion int16) *kafkaRequestMetric {
		return &kafkaRequestMetric{name: name, requests: requests,
			byVersion: make([]atomic.Pointer[prometheus.Counter], int(maxVersion)+1),
			totalTime: totalTime.WithLabelValues(name)}
	}
	k := &kafkaMetrics{byKey: make([]*kafkaRequestMetric, len(tbl)), queueSize: queue}
	for key, r := range tbl {
		if r.ok {
			k.byKey[key] = mk(kmsg.NameForKey(int16(key)), r.max)
		}
	}
	if fetchKey < len(tbl) && tbl[fetchKey].ok {
		k.fetchConsumer = mk(consumerFetchMetric, tbl[fetchKey].max)
		k.fetchFollower = mk(followerFetchMetric, tbl[fetchKey].max)
	}
	return k, nil
}

// request counts a request and returns what to time when it is answered.
func (k *kafkaMetrics) request(key, version int16, body kmsg.Request) reqMetrics {
	if k == nil || key < 0 || int(key) >= len(k.byKey) || k.byKey[key] == nil {
		return reqMetrics{}
	}
	rm := reqMetrics{first: k.byKey[key]}
	rm.first.count(version)
	if key == fetchKey && k.fetchConsumer != nil {
		rm.second = k.fetchConsumer
		if f, ok := body.(*kmsg.FetchRequest); ok && f.ReplicaID >= 0 {
			rm.second = k.fetchFollower
		}
		rm.second.count(version)
	}
	return rm
}

// done records a request's total time.
func (rm reqMetrics) done(received time.Time) {
	if rm.first == nil {
		return
	}
	ms := float64(time.Since(received)) / float64(time.Millisecond)
	rm.first.totalTime.Observe(ms)
	if rm.second != nil {
		rm.second.totalTime.Observe(ms)
	}
}
