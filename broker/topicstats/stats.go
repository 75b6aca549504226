package topicstats

import (
	"encoding/binary"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Counts are one topic's (or all topics') totals since the broker started.
type Counts struct {
	MessagesIn, BytesIn, MessagesOut, BytesOut int64
	ProduceRequests, FailedProduceRequests     int64
	FetchRequests, FailedFetchRequests         int64
}

type counters struct {
	messagesIn, bytesIn, messagesOut, bytesOut atomic.Int64
	produce, failedProduce, fetch, failedFetch atomic.Int64
	// known: Stats.Known has said the topic exists. Only a topic once known and then not is
	// deleted: a new topic's first records can arrive before the metadata cache has it.
	known atomic.Bool
}

func (c *counters) counts() Counts {
	return Counts{
		MessagesIn: c.messagesIn.Load(), BytesIn: c.bytesIn.Load(),
		MessagesOut: c.messagesOut.Load(), BytesOut: c.bytesOut.Load(),
		ProduceRequests: c.produce.Load(), FailedProduceRequests: c.failedProduce.Load(),
		FetchRequests: c.fetch.Load(), FailedFetchRequests: c.failedFetch.Load(),
	}
}

// Stats is a broker's per-topic traffic. The zero value is not usable; a nil *Stats counts
// nothing (tests that build a handler without one).
type Stats struct {
	all    counters
	topics sync.Map // topic → *counters
	// Known, if set, says whether a topic still exists: Collect drops the series (and counters)
	// of deleted topics, as Kafka removes a deleted topic's metrics.
	Known func(topic string) bool
}

// New returns empty stats.
func New() *Stats { return &Stats{} }

// of is the counters an event of topic adds to: all topics' and the topic's own ("" = only all
// topics', for a topic the broker does not know).
func (s *Stats) of(topic string) []*counters {
	if topic == "" {
		return []*counters{&s.all}
	}
	return []*counters{&s.all, s.topic(topic)}
}

func (s *Stats) topic(name string) *counters {
	if c, ok := s.topics.Load(name); ok {
		return c.(*counters)
	}
	c, _ := s.topics.LoadOrStore(name, &counters{})
	return c.(*counters)
}

// Produced counts one partition's successful append of records (the raw record-batch bytes a
// producer sent) on this leader.
func (s *Stats) Produced(topic string, records []byte) {
	if s == nil {
		return
	}
	n, size := CountRecords(records), int64(len(records))
	for _, c := range s.of(topic) {
		c.produce.Add(1)
		c.messagesIn.Add(n)
		c.bytesIn.Add(size)
	}
}

// ProduceFailed counts one partition of a produce request that was not appended ("": count it
// only in the all-topics series).
func (s *Stats) ProduceFailed(topic string) {
	if s == nil {
		return
	}
	for _, c := range s.of(topic) {
		c.produce.Add(1)
		c.failedProduce.Add(1)
	}
}

// Fetched counts one partition of a consumer's fetch and the records sent for it.
func (s *Stats) Fetched(topic string, records []byte) {
	if s == nil {
		return
	}
	s.FetchedSpan(topic, CountRecords(records), int64(len(records)))
}

// FetchedSpan counts a partition's answer to a consumer fetch sent from the segment files, whose
// records are counted as the offsets they span (the broker does not read the batch headers of a
// zero-copy send; in a compacted topic the span includes the offsets compaction removed).
func (s *Stats) FetchedSpan(topic string, n, size int64) {
	if s == nil {
		return
	}
	for _, c := range s.of(topic) {
		c.fetch.Add(1)
		c.messagesOut.Add(n)
		c.bytesOut.Add(size)
	}
}

// FetchFailed counts one partition of a consumer's fetch answered with an error ("": all topics
// only).
func (s *Stats) FetchFailed(topic string) {
	if s == nil {
		return
	}
	for _, c := range s.of(topic) {
		c.fetch.Add(1)
		c.failedFetch.Add(1)
	}
}

// Total is every topic's counts together.
func (s *Stats) Total() Counts {
	if s == nil {
		return Counts{}
	}
	return s.all.counts()
}

// Topics is each topic's counts (deleted topics included until the next Collect).
func (s *Stats) Topics() map[string]Counts {
	out := map[string]Counts{}
	if s == nil {
		return out
	}
	s.topics.Range(func(k, v any) bool {
		out[k.(string)] = v.(*counters).counts()
		return true
	})
	return out
}

// CountRecords is the number of records in a fetch or produce payload: the record counts of its
// whole magic-2 batches, one per legacy (magic 0/1) message — a compressed legacy wrapper
// counts as one — and nothing for a truncated batch at the end.
func CountRecords(b []byte) int64 {
	var n int64
	for len(b) >= 17 {
		size := int64(int32(binary.BigEndian.Uint32(b[8:12])))
		if size < 0 || 12+size > int64(len(b)) {
			break
		}
		if b[16] == 2 {
			if size+12 < 61 {
				break
			}
			if c := int32(binary.BigEndian.Uint32(b[57:61])); c > 0 {
				n += int64(c)
			}
		} else {
			n++
		}
		b = b[12+size:]
	}
	return n
}

var (
	descs = []struct {
		name, help string
		get        func(Counts) int64
	}{
		{"kafka_server_brokertopicmetrics_messagesin_total", "Records appended by producers on this broker as leader (Kafka's MessagesInPerSec); topic=\"\" is all topics.", func(c Counts) int64 { return c.MessagesIn }},
		{"kafka_server_brokertopicmetrics_bytesin_total", "Record-batch bytes appended by producers on this broker as leader (BytesInPerSec); topic=\"\" is all topics.", func(c Counts) int64 { return c.BytesIn }},
		{"kafka_server_brokertopicmetrics_bytesout_total", "Record-batch bytes sent to consumers, not followers (BytesOutPerSec); topic=\"\" is all topics.", func(c Counts) int64 { return c.BytesOut }},
		{"kafka_server_brokertopicmetrics_totalproducerequests_total", "Partitions of produce requests (TotalProduceRequestsPerSec); topic=\"\" is all topics.", func(c Counts) int64 { return c.ProduceRequests }},
		{"kafka_server_brokertopicmetrics_failedproducerequests_total", "Partitions of produce requests that failed (FailedProduceRequestsPerSec); topic=\"\" is all topics.", func(c Counts) int64 { return c.FailedProduceRequests }},
		{"kafka_server_brokertopicmetrics_totalfetchrequests_total", "Partitions of consumer fetch requests (TotalFetchRequestsPerSec); topic=\"\" is all topics.", func(c Counts) int64 { return c.FetchRequests }},
		{"kafka_server_brokertopicmetrics_failedfetchrequests_total", "Partitions of consumer fetch requests that failed (FailedFetchRequestsPerSec); topic=\"\" is all topics.", func(c Counts) int64 { return c.FailedFetchRequests }},
		{"gregor_server_brokertopicmetrics_messagesout_total", "Records sent to consumers (Gregor's; Kafka has no MessagesOut); topic=\"\" is all topics.", func(c Counts) int64 { return c.MessagesOut }},
	}
	promDescs = func() []*prometheus.Desc {
		out := make([]*prometheus.Desc, len(descs))
		for i, d := range descs {
			out[i] = prometheus.NewDesc(d.name, d.help, []string{"topic"}, nil)
		}
		return out
	}()
)

// Describe implements prometheus.Collector.
func (s *Stats) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range promDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the all-topics series, then one per topic that
// still exists.
func (s *Stats) Collect(ch chan<- prometheus.Metric) {
	emit := func(topic string, c Counts) {
		for i, d := range descs {
			ch <- prometheus.MustNewConstMetric(promDescs[i], prometheus.CounterValue, float64(d.get(c)), topic)
		}
	}
	emit("", s.Total())
	var names []string
	s.topics.Range(func(k, v any) bool {
		name, c := k.(string), v.(*counters)
		if s.Known != nil {
			if !s.Known(name) {
				if c.known.Load() {
					s.topics.Delete(name) // deleted: its series go too
				}
				return true
			}
			c.known.Store(true)
		}
		names = append(names, name)
		return true
	})
	sort.Strings(names)
	for _, name := range names {
		if c, ok := s.topics.Load(name); ok {
			emit(name, c.(*counters).counts())
		}
	}
}
