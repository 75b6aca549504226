package broker

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/gregor-broker/gregor/broker/clusterview"
)

// kafkaCollector exports the broker's state under the names Kafka's JMX exporter setups give
// Kafka's MBeans (ReplicaManager, KafkaController, KafkaServer) and, for consumer-group lag,
// the names of kafka-exporter, so Kafka dashboards and alerts work on Gregor unchanged. Every
// value is read at scrape time from the subsystems' read-only accessors; the traffic and
// request series are counted where they happen (broker/topicstats, broker/network).
type kafkaCollector struct {
	b    *Broker
	view *clusterview.View
	lag  lagCache
}

// lagCache keeps the last lag computed, so a scrape never waits on another broker longer than
// lagScrapeWait: end offsets come from the partitions' leaders, and a leader that is stopped
// (SIGSTOP, a partition of the network) would otherwise hold /metrics, and the whole scrape,
// until the admin client gives up.
type lagCache struct {
	mu       sync.Mutex // guards the fields below; never held across network I/O
	last     kadm.DescribedGroupLags
	inflight chan struct{} // closed when the running refresh ends; nil when none runs
}

// lagScrapeWait is how long a scrape waits for a fresh lag before it reports the last one.
const lagScrapeWait = 2 * time.Second

// kafkaBrokerStateRunning is Kafka's BrokerState RunningAsBroker.
const kafkaBrokerStateRunning = 3

var (
	descPartitionCount  = prometheus.NewDesc("kafka_server_replicamanager_partitioncount", "Partitions this broker hosts, led or followed (ReplicaManager PartitionCount).", nil, nil)
	descLeaderCount     = prometheus.NewDesc("kafka_server_replicamanager_leadercount", "Partitions this broker leads (ReplicaManager LeaderCount).", nil, nil)
	descUnderReplicated = prometheus.NewDesc("kafka_server_replicamanager_underreplicatedpartitions", "Partitions this broker leads whose ISR is smaller than their replica set (ReplicaManager UnderReplicatedPartitions).", nil, nil)
	descUnderMinISR     = prometheus.NewDesc("kafka_server_replicamanager_underminisrpartitioncount", "Partitions this broker leads whose ISR is below min.insync.replicas (ReplicaManager UnderMinIsrPartitionCount).", nil, nil)
	descAtMinISR        = prometheus.NewDesc("kafka_server_replicamanager_atminisrpartitioncount", "Partitions this broker leads whose ISR is exactly min.insync.replicas (ReplicaManager AtMinIsrPartitionCount).", nil, nil)
	descISRShrinks      = prometheus.NewDesc("kafka_server_replicamanager_isrshrinks_total", "ISR shrinks of partitions this broker leads (ReplicaManager IsrShrinksPerSec).", nil, nil)
	descISRExpands      = prometheus.NewDesc("kafka_server_replicamanager_isrexpands_total", "ISR expansions of partitions this broker leads (ReplicaManager IsrExpandsPerSec).", nil, nil)
	descLeaderReplRate  = prometheus.NewDesc("kafka_server_leaderreplication_byte_rate", "Bytes/s of throttled replicas sent to followers, as the leader replication throttle measures it (LeaderReplication byte-rate).", nil, nil)
	descFollowReplRate  = prometheus.NewDesc("kafka_server_followerreplication_byte_rate", "Bytes/s of throttled replicas fetched as a follower, as the follower replication throttle measures it (FollowerReplication byte-rate).", nil, nil)
	descActiveCtrl      = prometheus.NewDesc("kafka_controller_kafkacontroller_activecontrollercount", "1 on the active controller, 0 elsewhere; the cluster's sum must be 1 (KafkaController ActiveControllerCount).", nil, nil)
	descOffline         = prometheus.NewDesc("kafka_controller_kafkacontroller_offlinepartitionscount", "Partitions without a live leader, reported by the active controller, 0 elsewhere (KafkaController OfflinePartitionsCount).", nil, nil)
	descGlobalParts     = prometheus.NewDesc("kafka_controller_kafkacontroller_globalpartitioncount", "Partitions in the cluster, reported by the active controller, 0 elsewhere (KafkaController GlobalPartitionCount).", nil, nil)
	descGlobalTopics    = prometheus.NewDesc("kafka_controller_kafkacontroller_globaltopiccount", "Topics in the cluster, reported by the active controller, 0 elsewhere (KafkaController GlobalTopicCount).", nil, nil)
	descFetchSessions   = prometheus.NewDesc("kafka_server_fetchsessioncache_numincrementalfetchsessions", "Incremental fetch sessions this broker holds (FetchSessionCache NumIncrementalFetchSessions).", nil, nil)
	descFetchSessParts  = prometheus.NewDesc("kafka_server_fetchsessioncache_numincrementalfetchpartitionscached", "Partitions cached over all incremental fetch sessions (FetchSessionCache NumIncrementalFetchPartitionsCached).", nil, nil)
	descFetchSessEvicts = prometheus.NewDesc("kafka_server_fetchsessioncache_incrementalfetchsessionevictions_total", "Incremental fetch sessions evicted to make room for another (FetchSessionCache IncrementalFetchSessionEvictionsPerSec).", nil, nil)
	descBrokerState     = prometheus.NewDesc("kafka_server_kafkaserver_brokerstate", "Kafka's BrokerState: 3 (running) while the broker serves.", nil, nil)
	descGroupLag        = prometheus.NewDesc("kafka_consumergroup_lag", "End offset minus committed offset of a group on a partition, for the groups this broker coordinates (kafka-exporter's name).", []string{"consumergroup", "topic", "partition"}, nil)
	descGroupLagSum     = prometheus.NewDesc("kafka_consumergroup_lag_sum", "A group's lag summed over a topic's partitions, for the groups this broker coordinates (kafka-exporter's name).", []string{"consumergroup", "topic"}, nil)
	descGroupOffset     = prometheus.NewDesc("kafka_consumergroup_current_offset", "A group's committed offset on a partition, for the groups this broker coordinates (kafka-exporter's name).", []string{"consumergroup", "topic", "partition"}, nil)
	descGroupMembers    = prometheus.NewDesc("kafka_consumergroup_members", "Members of a group this broker coordinates (kafka-exporter's name).", []string{"consumergroup"}, nil)
)

func (k *kafkaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPartitionCount, descLeaderCount, descUnderReplicated, descUnderMinISR,
		descAtMinISR, descISRShrinks, descISRExpands, descLeaderReplRate, descFollowReplRate, descActiveCtrl, descOffline, descGlobalParts, descGlobalTopics,
		descFetchSessions, descFetchSessParts, descFetchSessEvicts, descBrokerState, descGroupLag, descGroupLagSum, descGroupOffset, descGroupMembers} {
		ch <- d
	}
}

func (k *kafkaCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g := k.b.replicas.Gauges()
	gauge(descPartitionCount, float64(g.Partitions))
	gauge(descLeaderCount, float64(g.Leaders))
	gauge(descUnderReplicated, float64(g.UnderReplicated))
	gauge(descUnderMinISR, float64(g.UnderMinISR))
	gauge(descAtMinISR, float64(g.AtMinISR))
	counter(descISRShrinks, g.ISRShrinks)
	counter(descISRExpands, g.ISRExpands)
	gauge(descBrokerState, kafkaBrokerStateRunning)
	if k.b.sessions != nil {
		fs := k.b.sessions.Stats()
		gauge(descFetchSessions, float64(fs.Sessions))
		gauge(descFetchSessParts, float64(fs.Partitions))
		counter(descFetchSessEvicts, float64(fs.Evictions))
	}
	lr, fr := k.b.replicas.ThrottledByteRates()
	gauge(descLeaderReplRate, lr)
	gauge(descFollowReplRate, fr)

	var active, offline, parts, topics float64
	if k.b.ctrl.IsActive() {
		active = 1
		snap := k.b.cache.Snapshot()
		for _, name := range snap.TopicNames() {
			t, _ := snap.Topic(name)
			topics++
			for _, p := range t.Partitions {
				parts++
				if p.Leader < 0 || !snap.IsAlive(p.Leader) {
					offline++
				}
			}
		}
	}
	gauge(descActiveCtrl, active)
	gauge(descOffline, offline)
	gauge(descGlobalParts, parts)
	gauge(descGlobalTopics, topics)

	k.collectLag(gauge)
}

// collectLag reports the lag of the groups this broker coordinates (each group on exactly one
// broker, so summing over brokers never counts a group twice). End offsets may live on other
// brokers: they are asked over the Kafka protocol, within the view's timeout.
func (k *kafkaCollector) collectLag(gauge func(*prometheus.Desc, float64, ...string)) {
	listed, _ := k.b.groups.ListGroups(nil)
	if len(listed) == 0 {
		return
	}
	names := make([]string, 0, len(listed))
	coordinated := make(map[string]bool, len(listed))
	for _, g := range listed {
		names = append(names, g.GroupID)
		coordinated[g.GroupID] = true
	}
	lags := k.freshLag(names)
	for _, l := range lags.Sorted() {
		if l.DescribeErr != nil || !coordinated[l.Group] {
			continue // a group that moved away since the last refresh is another broker's to report
		}
		gauge(descGroupMembers, float64(len(l.Members)), l.Group)
		sums := map[string]int64{}
		for _, pl := range l.Lag.Sorted() {
			if pl.Err != nil || pl.Lag < 0 {
				continue
			}
			p := strconv.Itoa(int(pl.Partition))
			gauge(descGroupLag, float64(pl.Lag), l.Group, pl.Topic, p)
			if pl.Commit.At >= 0 { // -1: nothing committed on this partition yet
				gauge(descGroupOffset, float64(pl.Commit.At), l.Group, pl.Topic, p)
			}
			sums[pl.Topic] += pl.Lag
		}
		for topic, sum := range sums {
			gauge(descGroupLagSum, float64(sum), l.Group, topic)
		}
	}
}

// freshLag starts a refresh of the groups' lag unless one is running, waits for it at most
// lagScrapeWait, and returns the newest lag known. The refresh goroutine ends within the view's
// group timeout (and at once when the view closes), whether or not a scrape still waits for it.
func (k *kafkaCollector) freshLag(groups []string) kadm.DescribedGroupLags {
	k.lag.mu.Lock()
	done := k.lag.inflight
	if done == nil {
		done = make(chan struct{})
		k.lag.inflight = done
		go k.refreshLag(groups, done)
	}
	k.lag.mu.Unlock()
	t := time.NewTimer(lagScrapeWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	k.lag.mu.Lock()
	defer k.lag.mu.Unlock()
	return k.lag.last
}

func (k *kafkaCollector) refreshLag(groups []string, done chan struct{}) {
	defer close(done)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lags, err := k.view.Lag(ctx, groups...)
	if err != nil {
		k.b.log.WithError(err).Debug("consumer group lag for /metrics")
	}
	k.lag.mu.Lock()
	defer k.lag.mu.Unlock()
	if err == nil || len(lags) > 0 {
		k.lag.last = lags
	}
	k.lag.inflight = nil
}
