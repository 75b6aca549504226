package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// documentedMetrics are the metric names of docs/metrics.md's tables.
func documentedMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testcluster.RepoRoot(), "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|")
	var names []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		names = append(names, m[1])
	}
	if len(names) < 30 {
		t.Fatalf("docs/metrics.md lists only %d metrics", len(names))
	}
	return names
}

// families scrapes broker id's /metrics and parses it.
func families(t *testing.T, c *testcluster.Cluster, id int32) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(strings.NewReader(httpGet(t, c.MetricsURL(id))))
	if err != nil {
		t.Fatalf("broker %d /metrics: %v", id, err)
	}
	return mf
}

// value sums a family's samples whose labels include every name=value of want (a summary
// counts its observations).
func value(mf map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := mf[name]
	if f == nil {
		return 0
	}
	var sum float64
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(want); i += 2 {
			found := false
			for _, l := range m.Label {
				found = found || (l.GetName() == want[i] && l.GetValue() == want[i+1])
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Summary != nil:
			sum += float64(m.Summary.GetSampleCount())
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// quantile is the largest q-quantile of a summary for request over brokers.
func quantile(all map[int32]map[string]*dto.MetricFamily, name, request string, q float64) float64 {
	var out float64
	for _, mf := range all {
		if f := mf[name]; f != nil {
			for _, m := range f.Metric {
				for _, l := range m.Label {
					if l.GetName() == "request" && l.GetValue() == request && m.Summary != nil {
						for _, sq := range m.Summary.Quantile {
							if sq.GetQuantile() == q && sq.GetValue() > out {
								out = sq.GetValue()
							}
						}
					}
				}
			}
		}
	}
	return out
}

// clusterValue sums value over brokers.
func clusterValue(all map[int32]map[string]*dto.MetricFamily, name string, want ...string) float64 {
	var sum float64
	for _, mf := range all {
		sum += value(mf, name, want...)
	}
	return sum
}

// TestKafkaMetricsOnThreeBrokers: after a produce and a consume on a 3-broker cluster, every
// metric docs/metrics.md lists is exported, under Kafka's names, with the values it must have:
// messages in equals the records produced, bytes out follow the consume, one active controller,
// the partition and leader counts add up, lag is what was produced and not consumed; stopping
// a follower raises the under-replicated partitions and the ISR shrinks.
func TestKafkaMetricsOnThreeBrokers(t *testing.T) {
	const offsetsPartitions = 3
	c := testcluster.Start(t, testcluster.Options{Brokers: 3, Config: map[string]string{
		"offsets.topic.replication.factor": "3",
		"offsets.topic.num.partitions":     fmt.Sprint(offsetsPartitions),
		"group.initial.rebalance.delay.ms": "0",
		"replica.lag.time.max.ms":          "1500",
		// Far above the pause below, so that only the leaders' lag tracking moves the ISRs.
		"zookeeper.session.timeout.ms": "30000",
	}})
	adm := newAdmin(t, c.Bootstrap())
	const topic, partitions, produced, unread = "metrics", 3, 300, 40
	createReplicated(t, adm, topic, partitions, 3, nil)
	waitMetadata(t, c, []int32{1, 2, 3}, topic, partitions, 3)

	produceRecords(t, c.Bootstrap(), topic, "record", produced)

	// Consume everything as a group, commit, leave.
	const group = "metrics-group"
	consumeAndCommit(t, c.Bootstrap(), topic, group, produced)
	produceRecords(t, c.Bootstrap(), topic, "unread", unread) // never consumed: the group's lag

	scrapeAll := func(ids ...int32) map[int32]map[string]*dto.MetricFamily {
		out := map[int32]map[string]*dto.MetricFamily{}
		for _, id := range ids {
			out[id] = families(t, c, id)
		}
		return out
	}
	var all map[int32]map[string]*dto.MetricFamily
	// The lag is computed from committed and end offsets at scrape time: it holds as soon as
	// the commit and the last produce are acknowledged, but poll in case a coordinator is
	// still loading.
	eventually(t, "the group's lag to equal the records not consumed", func() bool {
		all = scrapeAll(1, 2, 3)
		return clusterValue(all, "kafka_consumergroup_lag", "consumergroup", group, "topic", topic) == unread
	})

	for _, name := range documentedMetrics(t) {
		found := false
		for _, mf := range all {
			found = found || mf[name] != nil
		}
		if !found {
			t.Errorf("%s (docs/metrics.md) is exported by no broker", name)
		}
	}

	total := float64(produced + unread)
	checks := []struct {
		what      string
		got, want float64
	}{
		{"messages in of the topic (records produced)", clusterValue(all, "kafka_server_brokertopicmetrics_messagesin_total", "topic", topic), total},
		{"messages in of all topics (records produced, no other client writes)", clusterValue(all, "kafka_server_brokertopicmetrics_messagesin_total", "topic", ""), total},
		{"messages out of the topic (records consumed at least once)", min(clusterValue(all, "gregor_server_brokertopicmetrics_messagesout_total", "topic", topic), produced), produced},
		{"active controllers", clusterValue(all, "kafka_controller_kafkacontroller_activecontrollercount"), 1},
		{"offline partitions", clusterValue(all, "kafka_controller_kafkacontroller_offlinepartitionscount"), 0},
		{"global partition count", clusterValue(all, "kafka_controller_kafkacontroller_globalpartitioncount"), partitions + offsetsPartitions},
		{"global topic count", clusterValue(all, "kafka_controller_kafkacontroller_globaltopiccount"), 2},
		{"hosted partitions (every replica)", clusterValue(all, "kafka_server_replicamanager_partitioncount"), 3 * (partitions + offsetsPartitions)},
		{"leaders (one per partition)", clusterValue(all, "kafka_server_replicamanager_leadercount"), partitions + offsetsPartitions},
		{"under-replicated partitions", clusterValue(all, "kafka_server_replicamanager_underreplicatedpartitions"), 0},
		{"partitions under min ISR", clusterValue(all, "kafka_server_replicamanager_underminisrpartitioncount"), 0},
		{"broker states (3 each)", clusterValue(all, "kafka_server_kafkaserver_brokerstate"), 9},
		{"lag summed per topic", clusterValue(all, "kafka_consumergroup_lag_sum", "consumergroup", group, "topic", topic), unread},
		{"committed offsets (records consumed)", clusterValue(all, "kafka_consumergroup_current_offset", "consumergroup", group, "topic", topic), produced},
		{"members of the group after it left", clusterValue(all, "kafka_consumergroup_members", "consumergroup", group), 0},
		{"failed produce requests", clusterValue(all, "kafka_server_brokertopicmetrics_failedproducerequests_total", "topic", topic), 0},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s: %v, want %v", ck.what, ck.got, ck.want)
		}
	}
	positive := []struct {
		what string
		v    float64
	}{
		{"bytes in of the topic", clusterValue(all, "kafka_server_brokertopicmetrics_bytesin_total", "topic", topic)},
		{"bytes out of the topic", clusterValue(all, "kafka_server_brokertopicmetrics_bytesout_total", "topic", topic)},
		{"produce requests of the topic", clusterValue(all, "kafka_server_brokertopicmetrics_totalproducerequests_total", "topic", topic)},
		{"fetch requests of the topic", clusterValue(all, "kafka_server_brokertopicmetrics_totalfetchrequests_total", "topic", topic)},
		{"Produce requests", clusterValue(all, "kafka_network_requestmetrics_requests_total", "request", "Produce")},
		{"Fetch requests from consumers", clusterValue(all, "kafka_network_requestmetrics_requests_total", "request", "FetchConsumer")},
		{"Fetch requests from followers", clusterValue(all, "kafka_network_requestmetrics_requests_total", "request", "FetchFollower")},
		{"Produce total times observed", clusterValue(all, "kafka_network_requestmetrics_totaltimems", "request", "Produce")},
		{"Produce 99th percentile time", quantile(all, "kafka_network_requestmetrics_totaltimems", "Produce", 0.99)},
		{"Metadata requests", clusterValue(all, "kafka_network_requestmetrics_requests_total", "request", "Metadata")},
		{"bytes replicated to followers", clusterValue(all, "gregor_replica_fetched_bytes_total")},
	}
	for _, p := range positive {
		if p.v <= 0 {
			t.Errorf("%s: %v, want > 0", p.what, p.v)
		}
	}
	// Bytes in are the record batches appended: more than the values, less than the requests.
	if in, values := clusterValue(all, "kafka_server_brokertopicmetrics_bytesin_total", "topic", topic), total*float64(len("record-0")); in < values {
		t.Errorf("bytes in %v < the %v bytes of values produced", in, values)
	}
	// The network's count of Produce requests is the one both names share.
	if k, g := clusterValue(all, "kafka_network_requestmetrics_requests_total", "request", "Produce"), clusterValue(all, "gregor_network_requests_total", "api", "Produce"); k != g {
		t.Errorf("Produce requests: %v under Kafka's name, %v under Gregor's", k, g)
	}
	if t.Failed() {
		t.FailNow()
	}
	// The followers fetch through incremental fetch sessions (KIP-227): every partition a broker
	// leads is cached in the sessions of its two followers' fetchers. A consumer's session adds
	// at most the topic's partitions it led; without the followers' sessions no broker reaches
	// twice its leader count.
	short := ""
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		short = ""
		for id := int32(1); id <= 3; id++ {
			mf := families(t, c, id)
			leaders := value(mf, "kafka_server_replicamanager_leadercount")
			if cached := value(mf, "kafka_server_fetchsessioncache_numincrementalfetchpartitionscached"); leaders == 0 || cached < 2*leaders {
				short += fmt.Sprintf(" broker %d leads %v partitions, %v cached in fetch sessions;", id, leaders, cached)
			}
		}
		if short == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the followers' fetch sessions do not hold their leaders' partitions:%s", short)
		}
	}

	// A follower stops (SIGSTOP): the leaders of its partitions shrink their ISRs after
	// replica.lag.time.max.ms, so under-replicated partitions rise above zero on the other two
	// brokers — every partition they lead — and their ISR shrinks are counted; when it resumes,
	// the ISRs expand back. The paused broker is not the controller: the leaders' AlterIsr goes
	// to the controller, and a paused controller answers nothing until the pause ends.
	paused, others := pauseCandidate(t, c.ZKConn(), 3, 1)
	leadersOnPaused := value(all[paused], "kafka_server_replicamanager_leadercount")
	shrinksBefore := clusterValue(all, "kafka_server_replicamanager_isrshrinks_total")
	c.Pause(paused)
	resumed := false
	defer func() {
		if !resumed {
			c.Resume(paused)
		}
	}()
	eventually(t, fmt.Sprintf("under-replicated partitions on brokers %v", others), func() bool {
		all = scrapeAll(others...)
		return clusterValue(all, "kafka_server_replicamanager_underreplicatedpartitions") == partitions+offsetsPartitions-leadersOnPaused &&
			clusterValue(all, "kafka_server_replicamanager_isrshrinks_total") > shrinksBefore
	})
	if n := clusterValue(all, "kafka_controller_kafkacontroller_offlinepartitionscount"); n != 0 {
		t.Errorf("%v offline partitions with broker %d only paused", n, paused)
	}
	c.Resume(paused)
	resumed = true
	eventually(t, "no under-replicated partitions once the paused broker resumes", func() bool {
		all = scrapeAll(1, 2, 3)
		return clusterValue(all, "kafka_server_replicamanager_underreplicatedpartitions") == 0 &&
			clusterValue(all, "kafka_server_replicamanager_isrexpands_total") > 0
	})
}
