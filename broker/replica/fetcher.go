package replica

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/interbroker"
	klog "github.com/gregor-broker/gregor/broker/log"
)

// replicaFetchVersion is the Fetch version followers send: v12 carries LastFetchedEpoch and
// answers DivergingEpoch, so followers truncate on fetch as Kafka 2.7+ brokers do.
const replicaFetchVersion = 12

// FetcherConfig is the follower side's settings, with Kafka's names.
type FetcherConfig struct {
	NumFetchers      int           // num.replica.fetchers per source broker (1)
	MaxBytes         int32         // replica.fetch.max.bytes per partition (1 MiB)
	ResponseMaxBytes int32         // replica.fetch.response.max.bytes (10 MiB)
	MaxWait          time.Duration // replica.fetch.wait.max.ms (500 ms)
	MinBytes         int32         // replica.fetch.min.bytes (1)
	Backoff          time.Duration // replica.fetch.backoff.ms (1 s)
}

func (c FetcherConfig) withDefaults() FetcherConfig {
	if c.NumFetchers <= 0 {
		c.NumFetchers = 1
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 20
	}
	if c.ResponseMaxBytes <= 0 {
		c.ResponseMaxBytes = 10 << 20
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 500 * time.Millisecond
	}
	if c.MinBytes <= 0 {
		c.MinBytes = 1
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	return c
}

// fetcherKey names one fetcher: a source broker and an index below num.replica.fetchers.
type fetcherKey struct {
	source int32
	index  int
}

// fetchers is the set of replica fetchers (Kafka's ReplicaFetcherManager). Its mu is a leaf
// with respect to partition locks: it is never held while taking Partition.mu, and a fetcher's
// goroutine never holds fetcher.mu while taking Partition.mu either.
type fetchers struct {
	m       *Manager
	mu      sync.Mutex // guards byKey, closed
	byKey   map[fetcherKey]*fetcher
	closed  bool
	lastKey map[klog.TopicPartition]fetcherKey // which fetcher holds a partition
}

func newFetchers(m *Manager) *fetchers {
	return &fetchers{m: m, byKey: map[fetcherKey]*fetcher{}, lastKey: map[klog.TopicPartition]fetcherKey{}}
}

func (fs *fetchers) keyFor(tp klog.TopicPartition, source int32) fetcherKey {
	h := fnv.New32a()
	_, _ = h.Write([]byte(tp.Topic))
	n := fs.m.o.Fetch.NumFetchers
	return fetcherKey{source: source, index: int((h.Sum32() + uint32(tp.Partition)) % uint32(n))}
}

// add makes p fetched from source at addr, moving it off any other fetcher. Fetchers left
// without partitions are stopped.
func (fs *fetchers) add(p *Partition, source int32, addr string) {
	var idle []*fetcher
	fs.mu.Lock()
	if fs.closed {
		fs.mu.Unlock()
		return
	}
	k := fs.keyFor(p.tp, source)
	if old, ok := fs.lastKey[p.tp]; ok && old != k {
		if f := fs.byKey[old]; f != nil && f.remove(p.tp) == 0 {
			delete(fs.byKey, old)
			idle = append(idle, f)
		}
	}
	f := fs.byKey[k]
	if f != nil && f.addr() != addr {
		f.setAddr(addr)
	}
	if f == nil {
		f = newFetcher(fs.m, k, addr)
		fs.byKey[k] = f
	}
	fs.lastKey[p.tp] = k
	f.addPartition(p)
	fs.mu.Unlock()
	for _, f := range idle {
		f.shutdown()
	}
}

// remove stops fetching tps.
func (fs *fetchers) remove(tps ...klog.TopicPartition) {
	var idle []*fetcher
	fs.mu.Lock()
	for _, tp := range tps {
		k, ok := fs.lastKey[tp]
		if !ok {
			continue
		}
		delete(fs.lastKey, tp)
		if f := fs.byKey[k]; f != nil && f.remove(tp) == 0 {
			delete(fs.byKey, k)
			idle = append(idle, f)
		}
	}
	fs.mu.Unlock()
	for _, f := range idle {
		f.shutdown()
	}
}

func (fs *fetchers) shutdown() {
	fs.mu.Lock()
	fs.closed = true
	all := make([]*fetcher, 0, len(fs.byKey))
	for _, f := range fs.byKey {
		all = append(all, f)
	}
	clear(fs.byKey)
	fs.mu.Unlock()
	for _, f := range all {
		f.shutdown()
	}
}

// fetcher is one replica fetcher goroutine (Kafka's ReplicaFetcherThread): it fetches every
// partition it holds from one leader in one Fetch request at a time, appends what it gets, and
// truncates where the leader says the logs diverged. Started by newFetcher, stopped by
// shutdown.
type fetcher struct {
	m    *Manager
	key  fetcherKey
	conn *interbroker.Conn
	log  logrus.FieldLogger

	mu    sync.Mutex // guards parts
	parts map[klog.TopicPartition]*fetchSlot

	wake chan struct{} // capacity 1: a partition was added
	// session is the fetch session with the leader; the fetcher goroutine's alone.
	session fetchSession
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
}

// fetchSlot is a partition's place in a fetcher; retryAt delays it after an error.
type fetchSlot struct {
	p       *Partition
	retryAt time.Time
	// caughtUp: at its last fetch the partition reached the leader's high watermark, so the
	// follower throttle does not hold it back (Kafka's isReplicaInSync).
	caughtUp bool
}

func newFetcher(m *Manager, k fetcherKey, addr string) *fetcher {
	o := m.o.InterBroker
	o.ClientID = "broker-" + strconv.Itoa(int(m.o.BrokerID)) + "-fetcher-" + strconv.Itoa(k.index)
	o.ReuseBuffer = true // responses are appended before the next fetch
	o.MaxResponseBytes = max(o.MaxResponseBytes, m.o.Fetch.ResponseMaxBytes+m.o.Fetch.MaxBytes+(1<<20))
	ctx, cancel := context.WithCancel(context.Background())
	f := &fetcher{m: m, key: k, conn: interbroker.NewConn(k.source, addr, o),
		log:   m.o.Logger.WithFields(logrus.Fields{"fetcher": k.index, "source_broker": k.source}),
		parts: map[klog.TopicPartition]*fetchSlot{}, wake: make(chan struct{}, 1),
		ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go f.run() // owned by the fetchers set: shutdown stops it
	return f
}

func (f *fetcher) addr() string        { return f.conn.Addr() }
func (f *fetcher) setAddr(addr string) { f.conn.SetAddr(addr) }

func (f *fetcher) addPartition(p *Partition) {
	f.mu.Lock()
	f.parts[p.tp] = &fetchSlot{p: p}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// remove drops tp and returns how many partitions are left.
func (f *fetcher) remove(tp klog.TopicPartition) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.parts, tp)
	return len(f.parts)
}

func (f *fetcher) shutdown() {
	f.cancel()
	<-f.done
	f.conn.Close()
}

// fetchItem is one partition of a request being built, with the state it was built from.
type fetchItem struct {
	p           *Partition
	leaderEpoch int32
	offset      int64
}

func (f *fetcher) run() {
	defer close(f.done)
	cfg := f.m.o.Fetch
	for {
		items, wait := f.build()
		if len(items) == 0 {
			var timer *time.Timer
			var expired <-chan time.Time
			if wait > 0 {
				timer = time.NewTimer(wait)
				expired = timer.C
			}
			select {
			case <-f.wake:
			case <-expired:
			case <-f.ctx.Done():
			}
			if timer != nil {
				timer.Stop()
			}
			if f.ctx.Err() != nil {
				return
			}
			continue
		}
		req := f.request(items)
		resp, err := f.conn.RoundTrip(f.ctx, req)
		if f.ctx.Err() != nil {
			return
		}
		if err == nil {
			r := resp.(*kmsg.FetchResponse)
			switch r.ErrorCode {
			case 0:
				f.session.answered(req, r)
				f.handle(items, r)
				continue
			case kerr.FetchSessionIDNotFound.Code, kerr.InvalidFetchSessionEpoch.Code:
				// The leader lost the session (a restart, an eviction): start over with a full
				// fetch at once, as Kafka's FetchSessionHandler does.
				f.log.WithField("session_id", req.SessionID).Debug("fetch session gone; fetching in full")
				f.session.reset()
				continue
			}
			err = fmt.Errorf("fetch from broker %d: %w", f.key.source, kerr.ErrorForCode(r.ErrorCode))
		}
		f.session.reset()
		f.log.WithError(err).Debug("replica fetch failed; backing off")
		if !f.sleep(cfg.Backoff) {
			return
		}
	}
}

// sleep waits d; false if the fetcher is stopping.
func (f *fetcher) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-f.ctx.Done():
		return false
	}
}

// build collects the partitions ready to fetch, each with the epoch and log end it is fetched
// at. If none is ready it returns how long until the next delayed one is (0: wait for a wake).
func (f *fetcher) build() ([]fetchItem, time.Duration) {
	now := time.Now()
	f.mu.Lock()
	slots := make([]*fetchSlot, 0, len(f.parts))
	var next time.Duration
	for _, s := range f.parts {
		if d := s.retryAt.Sub(now); d > 0 {
			if next == 0 || d < next {
				next = d
			}
			continue
		}
		slots = append(slots, s)
	}
	f.mu.Unlock()
	items := make([]fetchItem, 0, len(slots))
	throttled := false
	for _, s := range slots {
		if f.followerThrottled(s) { // quota.go
			throttled = true
			continue
		}
		p := s.p
		p.mu.Lock()
		if !p.stopped && p.log != nil && p.leader == f.key.source && p.leader != p.me {
			items = append(items, fetchItem{p: p, leaderEpoch: p.leaderEpoch, offset: p.log.LogEndOffset()})
		}
		p.mu.Unlock()
	}
	if throttled && len(items) == 0 {
		next = f.throttleWait(next)
	}
	return items, next
}

func (f *fetcher) request(items []fetchItem) *kmsg.FetchRequest {
	cfg := f.m.o.Fetch
	req := kmsg.NewPtrFetchRequest()
	req.Version = replicaFetchVersion
	req.ReplicaID = f.m.o.BrokerID
	req.MaxWaitMillis = int32(cfg.MaxWait / time.Millisecond)
	req.MinBytes = cfg.MinBytes
	req.MaxBytes = cfg.ResponseMaxBytes
	parts := make([]sessionPartition, 0, len(items))
	for _, it := range items {
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition = it.p.tp.Partition
		fp.CurrentLeaderEpoch = it.leaderEpoch
		fp.FetchOffset = it.offset
		fp.LastFetchedEpoch = it.p.log.LatestEpoch()
		fp.LogStartOffset = it.p.log.LogStartOffset()
		fp.PartitionMaxBytes = cfg.MaxBytes
		parts = append(parts, sessionPartition{it.p.tp, fp})
	}
	f.session.fill(req, parts)
	return req
}

// handle applies one fetch response, partition by partition.
func (f *fetcher) handle(items []fetchItem, r *kmsg.FetchResponse) {
	byTP := make(map[klog.TopicPartition]*fetchItem, len(items))
	for i := range items {
		byTP[items[i].p.tp] = &items[i]
	}
	for ti := range r.Topics {
		t := &r.Topics[ti]
		for pi := range t.Partitions {
			rp := &t.Partitions[pi]
			tp := klog.TopicPartition{Topic: t.Topic, Partition: rp.Partition}
			it := byTP[tp]
			if it == nil {
				continue
			}
			if err := f.handlePartition(it, rp); err != nil {
				f.log.WithError(err).WithFields(logrus.Fields{"topic": tp.Topic, "partition": tp.Partition}).
					Debug("replica fetch of partition failed; delaying it")
				f.delay(tp)
			} else {
				f.afterFetch(tp, it, len(rp.RecordBatches), rp.HighWatermark) // quota.go
			}
		}
	}
}

func (f *fetcher) delay(tp klog.TopicPartition) {
	f.mu.Lock()
	if s := f.parts[tp]; s != nil {
		s.retryAt = time.Now().Add(f.m.o.Fetch.Backoff)
	}
	f.mu.Unlock()
}

func (f *fetcher) handlePartition(it *fetchItem, rp *kmsg.FetchResponseTopicPartition) error {
	switch err := kerr.ErrorForCode(rp.ErrorCode); {
	case err == nil:
	case errors.Is(err, kerr.OffsetOutOfRange):
		return f.m.followerOutOfRange(f, it)
	default:
		// NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH (our LeaderAndIsr is old),
		// UNKNOWN_LEADER_EPOCH (the leader's is), UNKNOWN_TOPIC_OR_PARTITION: the controller's
		// next LeaderAndIsr settles it; try again after the backoff.
		return fmt.Errorf("leader %d answered %w", f.key.source, err)
	}
	// Kafka signals divergence by a diverging epoch >= 0 (the field defaults to -1).
	if rp.DivergingEpoch.Epoch >= 0 {
		return f.m.followerTruncate(it, f.key.source, rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset)
	}
	return f.m.followerAppend(it, f.key.source, rp.RecordBatches, rp.HighWatermark, rp.LogStartOffset)
}

// listLeaderOffset asks the leader for its log end (timestamp -1) or log start (-2) as a
// replica sees them.
func (f *fetcher) listLeaderOffset(tp klog.TopicPartition, epoch int32, timestamp int64) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 5
	req.ReplicaID = f.m.o.BrokerID
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = tp.Topic
	p := kmsg.NewListOffsetsRequestTopicPartition()
	p.Partition, p.CurrentLeaderEpoch, p.Timestamp = tp.Partition, epoch, timestamp
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	resp, err := f.conn.RoundTrip(f.ctx, req)
	if err != nil {
		return -1, err
	}
	for _, rt := range resp.(*kmsg.ListOffsetsResponse).Topics {
		for _, rp := range rt.Partitions {
			if rt.Topic == tp.Topic && rp.Partition == tp.Partition {
				if rp.ErrorCode != 0 {
					return -1, kerr.ErrorForCode(rp.ErrorCode)
				}
				return rp.Offset, nil
			}
		}
	}
	return -1, fmt.Errorf("ListOffsets response omitted %s", tp)
}
