package replica

import "github.com/prometheus/client_golang/prometheus"

// ParkedFetchesMetric is the gauge of Fetch calls parked in a long poll right now (consumers'
// and followers'), the figure Kafka's delayed-fetch purgatory size gives. Tests read it to know
// a fetch is parked before they produce to wake it.
const ParkedFetchesMetric = "gregor_replica_parked_fetches"

// replicaStats are the replication counters an operator watches (Kafka's ReplicaManager
// IsrShrinksPerSec / IsrExpandsPerSec, and what followers replicate).
type replicaStats struct {
	isrShrinks      prometheus.Counter
	isrExpands      prometheus.Counter
	truncations     prometheus.Counter
	replicatedBytes prometheus.Counter
	parkedFetches   prometheus.Gauge
	consumerFetches *prometheus.CounterVec // by role: leader, follower (KIP-392)
	// The two children of consumerFetches, resolved once: no label lookup per fetch.
	consumerFetchesLeader, consumerFetchesFollower prometheus.Counter
}

func newReplicaStats(reg prometheus.Registerer) *replicaStats {
	s := &replicaStats{
		isrShrinks: prometheus.NewCounter(prometheus.CounterOpts{Name: "gregor_replica_isr_shrinks_total",
			Help: "ISR shrinks of partitions this broker leads, as written by the controller."}),
		isrExpands: prometheus.NewCounter(prometheus.CounterOpts{Name: "gregor_replica_isr_expands_total",
			Help: "ISR expansions of partitions this broker leads, as written by the controller."}),
		truncations: prometheus.NewCounter(prometheus.CounterOpts{Name: "gregor_replica_follower_truncations_total",
			Help: "Times a follower truncated its log to where it diverged from the leader's."}),
		replicatedBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "gregor_replica_fetched_bytes_total",
			Help: "Record bytes this broker appended as a follower."}),
		parkedFetches: prometheus.NewGauge(prometheus.GaugeOpts{Name: ParkedFetchesMetric,
			Help: "Fetch requests parked in a long poll, waiting for data, their max wait or shutdown."}),
		consumerFetches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gregor_replica_consumer_fetch_partitions_total",
			Help: "Partitions read for consumers, by whether this broker led them or served them as a follower in the consumer's rack."},
			[]string{"role"}),
	}
	s.consumerFetchesLeader = s.consumerFetches.WithLabelValues("leader")
	s.consumerFetchesFollower = s.consumerFetches.WithLabelValues("follower")
	if reg != nil {
		for _, c := range []prometheus.Collector{s.isrShrinks, s.isrExpands, s.truncations, s.replicatedBytes, s.parkedFetches, s.consumerFetches} {
			_ = reg.Register(c)
		}
	}
	return s
}
