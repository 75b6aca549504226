package replica

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/broker/interbroker"
	klog "github.com/gregor-broker/gregor/broker/log"
)

// Options configure a Manager.
type Options struct {
	BrokerID int32
	Logs     *klog.Manager
	Logger   logrus.FieldLogger
	// LogConfig resolves a topic's log settings and min.insync.replicas (topic overrides over
	// broker defaults); called when a log is created and when the topic's config changes.
	LogConfig func(topic string) (klog.Config, int32, error)

	// ReplicaLagTimeMax is replica.lag.time.max.ms: a follower that has not caught up for this
	// long leaves the ISR (default 30 s).
	ReplicaLagTimeMax time.Duration
	// Fetch configures the replica fetchers of partitions this broker follows.
	Fetch FetcherConfig
	// InterBroker is the template for connections to other brokers (dial, timeouts).
	InterBroker interbroker.Options
	// BrokerEpoch is this broker's registration epoch, sent with AlterIsr.
	BrokerEpoch func() int64
	// Controller returns the active controller's id and inter-broker address, for AlterIsr.
	Controller func() (id int32, addr string, ok bool)
	// RackAware (replica.selector.class = RackAwareReplicaSelector, KIP-392): a consumer that
	// sends a rack id is told to fetch from an in-sync follower in its rack, and followers serve
	// such consumers up to their high watermark. RackOf gives a broker's rack ("" unknown).
	RackAware bool
	RackOf    func(broker int32) string
	// QuotaWindows and QuotaWindowSize are replication.quota.window.num (11) and
	// replication.quota.window.size.seconds (1 s): the replication throttles measure their rate
	// over that many windows of that size (quota.go).
	QuotaWindows    int
	QuotaWindowSize time.Duration
	// Now is the clock of ISR tracking and of the replication throttles (nil: time.Now).
	Now        func() time.Time
	Registerer prometheus.Registerer
}

// Manager is the set of partitions this broker hosts.
type Manager struct {
	o Options

	mu              sync.RWMutex // guards partitions, controllerEpoch, closed
	partitions      map[klog.TopicPartition]*Partition
	controllerEpoch int32
	closed          bool
	done            chan struct{} // closed by Shutdown: releases every waiter

	fetchers *fetchers
	alter    *alterISRSender
	stats    *replicaStats
	wg       sync.WaitGroup // the ISR expiry loop and the AlterIsr sender

	quotas *replicationQuotas // the replication throttles (quota.go)

	// seqWarned is when an idempotence refusal was last logged (unix ns): at most one a second.
	seqWarned atomic.Int64
}

// NewManager returns an empty manager.
func NewManager(o Options) *Manager {
	if o.Logger == nil {
		l := logrus.New()
		l.SetLevel(logrus.WarnLevel)
		o.Logger = l
	}
	if o.ReplicaLagTimeMax <= 0 {
		o.ReplicaLagTimeMax = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BrokerEpoch == nil {
		o.BrokerEpoch = func() int64 { return -1 }
	}
	if o.RackOf == nil {
		o.RackOf = func(int32) string { return "" }
	}
	if o.Controller == nil {
		o.Controller = func() (int32, string, bool) { return -1, "", false }
	}
	o.Fetch = o.Fetch.withDefaults()
	if o.InterBroker.Logger == nil {
		o.InterBroker.Logger = o.Logger
	}
	m := &Manager{o: o, partitions: map[klog.TopicPartition]*Partition{}, controllerEpoch: -1, done: make(chan struct{}),
		stats: newReplicaStats(o.Registerer)}
	if o.Registerer != nil {
		_ = o.Registerer.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gregor_replica_offline_partitions",
			Help: "Hosted partitions whose log directory failed: they answer KAFKA_STORAGE_ERROR until a restart (Kafka's OfflineReplicaCount)."},
			func() float64 { return float64(m.OfflinePartitions()) }))
	}
	m.quotas = newReplicationQuotas(o)
	m.fetchers = newFetchers(m)
	m.alter = newAlterISRSender(m)
	m.wg.Add(2)
	go func() { defer m.wg.Done(); m.alter.run() }()
	go m.isrExpiryLoop()
	return m
}

func (m *Manager) now() time.Time { return m.o.Now() }

// isrExpiryLoop checks every half replica.lag.time.max.ms for followers that fell out of sync,
// as Kafka's isr-expiration task does. Stopped by Shutdown.
func (m *Manager) isrExpiryLoop() {
	defer m.wg.Done()
	t := time.NewTicker(m.o.ReplicaLagTimeMax / 2)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			m.shrinkISRs(m.o.ReplicaLagTimeMax)
		case <-m.done:
			return
		}
	}
}

// snapshotPartitions lists the hosted partitions.
func (m *Manager) snapshotPartitions() []*Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Partition, 0, len(m.partitions))
	for _, p := range m.partitions {
		out = append(out, p)
	}
	return out
}

// stateAppliers bounds the partitions of one LeaderAndIsr applied at once.
const stateAppliers = 16

// verboseLeaderAndIsr: a LeaderAndIsr of at most this many partitions logs each at info level.
const verboseLeaderAndIsr = 100

// PartitionState is one partition's entry of a LeaderAndIsr request.
type PartitionState struct {
	Topic           string
	TopicID         [16]byte
	Partition       int32
	ControllerEpoch int32
	Leader          int32
	LeaderEpoch     int32
	ISR             []int32
	Replicas        []int32
	PartitionEpoch  int32
	IsNew           bool
	// LeaderAddr is the leader's inter-broker host:port (LeaderAndIsr's LiveLeaders); a
	// follower fetches from it. Empty when the leader is not live.
	LeaderAddr string
}

// BecomeLeaderOrFollower applies a LeaderAndIsr request. A controller older than the newest one
// seen is refused for every partition; per partition, only a newer leader epoch is applied
// (Kafka 2.8's rule: an equal or older one is answered STALE_CONTROLLER_EPOCH and ignored).
func (m *Manager) BecomeLeaderOrFollower(controllerEpoch int32, states []PartitionState) map[klog.TopicPartition]error {
	out := make(map[klog.TopicPartition]error, len(states))
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		for _, s := range states {
			out[klog.TopicPartition{Topic: s.Topic, Partition: s.Partition}] = ErrShutdown
		}
		return out
	}
	if controllerEpoch < m.controllerEpoch {
		m.mu.Unlock()
		for _, s := range states {
			out[klog.TopicPartition{Topic: s.Topic, Partition: s.Partition}] = ErrStaleControllerEpoch
		}
		return out
	}
	m.controllerEpoch = controllerEpoch
	parts := make([]*Partition, len(states))
	for i, s := range states {
		tp := klog.TopicPartition{Topic: s.Topic, Partition: s.Partition}
		p := m.partitions[tp]
		if p == nil && contains(s.Replicas, m.o.BrokerID) {
			p = newPartition(tp, m.o.BrokerID)
			m.partitions[tp] = p
		}
		parts[i] = p
	}
	m.mu.Unlock()

	// One log line per partition is what an operator reads after a small change; a failover's
	// request of thousands of partitions gets a summary instead (per partition at debug level),
	// since a line per partition was a tenth of its time on the controller's critical path.
	verbose := len(states) <= verboseLeaderAndIsr
	began := m.now()
	// Partitions are independent: apply them in parallel, so that a LeaderAndIsr creating
	// thousands of logs (each a directory, files and fsyncs) is not one disk wait after another.
	errs := make([]error, len(states))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(stateAppliers, len(states)); w++ {
		wg.Add(1)
		go func() { // owned by this call: it waits for them below
			defer wg.Done()
			for i := range work {
				s := states[i]
				if parts[i] == nil || !contains(s.Replicas, m.o.BrokerID) {
					errs[i] = fmt.Errorf("%w: broker %d is not a replica of %s-%d", ErrUnknownTopicOrPartition, m.o.BrokerID, s.Topic, s.Partition)
					continue
				}
				if parts[i].offline.Load() {
					// Kafka's answer for a partition in a failed log dir: the controller reads it
					// as an offline replica and elects and shrinks without it.
					errs[i] = fmt.Errorf("%w: %s-%d is in an offline log directory", ErrKafkaStorage, s.Topic, s.Partition)
					continue
				}
				errs[i] = m.applyState(parts[i], s, verbose)
			}
		}()
	}
	for i := range states {
		work <- i
	}
	close(work)
	wg.Wait()
	leaders, failed := 0, 0
	for i, s := range states {
		out[klog.TopicPartition{Topic: s.Topic, Partition: s.Partition}] = errs[i]
		switch {
		case errs[i] != nil:
			failed++
		case s.Leader == m.o.BrokerID:
			leaders++
		}
	}
	if !verbose {
		m.o.Logger.WithFields(logrus.Fields{"partitions": len(states), "leader": leaders,
			"follower": len(states) - leaders - failed, "refused": failed, "took": m.now().Sub(began).String()}).
			Info("LeaderAndIsr applied")
	}
	// Fetchers change after the partition state, with no partition lock held: a fetch in flight
	// for a partition whose leader or epoch changed is discarded when it returns.
	for i, s := range states {
		tp := klog.TopicPartition{Topic: s.Topic, Partition: s.Partition}
		if out[tp] != nil || parts[i] == nil {
			continue
		}
		if s.Leader != m.o.BrokerID && s.Leader >= 0 && s.LeaderAddr != "" {
			m.fetchers.add(parts[i], s.Leader, s.LeaderAddr)
		} else {
			m.fetchers.remove(tp)
		}
	}
	return out
}

func (m *Manager) applyState(p *Partition, s PartitionState, verbose bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log != nil && p.log.Offline() {
		// Its directory failed and HandleLogDirFailure has not run yet: answer as it will.
		return fmt.Errorf("%w: %s is in an offline log directory", ErrKafkaStorage, p.tp)
	}
	if p.log != nil && !p.stopped && s.LeaderEpoch == p.leaderEpoch && s.Leader == p.leader &&
		s.PartitionEpoch > p.partitionEpoch {
		// Same leadership, newer state znode (Kafka 3.x's partition-epoch rule): the ISR and the
		// partition epoch a leader's AlterIsr must name move, nothing else does. Without this a
		// leader that missed an ISR write (a lost answer, a controller failover) would propose
		// against a stale zkVersion forever.
		p.partitionEpoch = s.PartitionEpoch
		p.replicas = append([]int32(nil), s.Replicas...)
		p.isr = append([]int32(nil), s.ISR...)
		p.pendingISR = nil
		if p.isLeaderLocked() {
			now := m.now()
			for _, r := range p.replicas {
				if r != p.me && p.followers[r] == nil {
					p.followers[r] = &followerState{leo: -1, lastFetch: now, lastFetchLeaderLEO: p.epochStartOffset}
				}
			}
			p.maybeAdvanceHWLocked()
			p.wakeHWLocked()
		}
		return nil
	}
	if p.log != nil && s.LeaderEpoch <= p.leaderEpoch {
		return fmt.Errorf("%w: leader epoch %d is not newer than %d for %s", ErrStaleControllerEpoch, s.LeaderEpoch, p.leaderEpoch, p.tp)
	}
	if p.log == nil {
		cfg, minISR, err := m.o.LogConfig(s.Topic)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrKafkaStorage, err)
		}
		l, err := m.o.Logs.GetOrCreateLog(p.tp, cfg, s.TopicID)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrKafkaStorage, err)
		}
		p.log, p.minISR, p.topicID = l, minISR, s.TopicID
	}
	p.stopped = false
	p.leader, p.leaderEpoch, p.partitionEpoch = s.Leader, s.LeaderEpoch, s.PartitionEpoch
	p.replicas = append([]int32(nil), s.Replicas...)
	p.isr = append([]int32(nil), s.ISR...)
	p.pendingISR = nil
	level := logrus.DebugLevel
	if verbose {
		level = logrus.InfoLevel
	}
	logger := m.o.Logger.WithFields(logrus.Fields{"topic": p.tp.Topic, "partition": p.tp.Partition, "leader_epoch": s.LeaderEpoch})
	if s.Leader == m.o.BrokerID {
		// A new leader starts its epoch at its log end: followers truncate to it (Kafka's
		// leader-epoch rule), and acks=all waits for every ISR member from here on.
		p.epochStartOffset = p.log.LogEndOffset()
		if s.LeaderEpoch > p.log.LatestEpoch() {
			// In memory until the log's next flush (klog.Log.AssignEpochStartOffset).
			if err := p.log.AssignEpochStartOffset(s.LeaderEpoch, p.epochStartOffset); err != nil {
				return fmt.Errorf("%w: %v", ErrKafkaStorage, err)
			}
		}
		p.leaderAddr = ""
		m.becomeLeaderLocked(p)
		p.maybeAdvanceHWLocked()
		logger.Log(level, "became leader")
	} else {
		p.leaderAddr = s.LeaderAddr
		p.followers = map[int32]*followerState{}
		logger.WithField("leader", s.Leader).Log(level, "became follower")
	}
	p.wakeLocked() // parked fetches and produces re-check leadership
	return nil
}

// StopReplicas stops serving the partitions; with deletePartition their logs are removed.
func (m *Manager) StopReplicas(parts []klog.TopicPartition, deletePartition bool) map[klog.TopicPartition]error {
	out := make(map[klog.TopicPartition]error, len(parts))
	m.fetchers.remove(parts...)
	for _, tp := range parts {
		m.mu.Lock()
		p := m.partitions[tp]
		if p != nil && p.offline.Load() {
			m.mu.Unlock()
			// Kafka's answer too: nothing of a failed disk is stopped or deleted.
			out[tp] = fmt.Errorf("%w: %s is in an offline log directory", ErrKafkaStorage, tp)
			continue
		}
		if deletePartition {
			delete(m.partitions, tp)
		}
		m.mu.Unlock()
		if p != nil {
			p.mu.Lock()
			p.stopped = true
			p.leader = -1
			p.wakeLocked()
			p.mu.Unlock()
		}
		if deletePartition {
			if err := m.o.Logs.DeleteLog(tp); err != nil {
				out[tp] = fmt.Errorf("%w: %v", ErrKafkaStorage, err)
				continue
			}
		}
		out[tp] = nil
	}
	return out
}

// partition returns a hosted partition or ErrUnknownTopicOrPartition.
func (m *Manager) partition(tp klog.TopicPartition) (*Partition, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrShutdown
	}
	p := m.partitions[tp]
	if p == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownTopicOrPartition, tp)
	}
	if p.offline.Load() {
		return nil, fmt.Errorf("%w: %s is in an offline log directory", ErrKafkaStorage, tp)
	}
	return p, nil
}

// leaderPartition returns the partition if this broker leads it, checking the client's epoch.
func (m *Manager) leaderPartition(tp klog.TopicPartition, currentLeaderEpoch int32) (*Partition, error) {
	p, err := m.partition(tp)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownTopicOrPartition, tp)
	}
	if err := p.checkEpochLocked(currentLeaderEpoch); err != nil {
		return nil, err
	}
	if !p.isLeaderLocked() {
		return nil, fmt.Errorf("%w: %s (leader %d)", ErrNotLeaderOrFollower, tp, p.leader)
	}
	return p, nil
}

// HandleLogDirFailure stops serving every partition whose log is in dir, a log directory that
// failed — Kafka's ReplicaManager.handleLogDirFailure: each is marked offline (Produce, Fetch,
// ListOffsets, LeaderAndIsr and StopReplica answer KAFKA_STORAGE_ERROR for it from now on), its
// replica fetcher stops, and its waiters are released (a parked acks=all produce answers
// KAFKA_STORAGE_ERROR: its batch may never be replicated). The caller then closes the logs
// (klog.Manager.TakeDirOffline) and tells the controller. It returns the partitions taken
// offline.
func (m *Manager) HandleLogDirFailure(dir string) []klog.TopicPartition {
	var offline []klog.TopicPartition
	for _, p := range m.snapshotPartitions() {
		p.mu.Lock()
		if p.log != nil && p.log.ParentDir() == dir && !p.offline.Load() {
			p.offline.Store(true)
			p.stopped, p.leader = true, -1
			p.pendingISR = nil
			p.wakeLocked()
			offline = append(offline, p.tp)
		}
		p.mu.Unlock()
	}
	if len(offline) > 0 {
		m.fetchers.remove(offline...)
	}
	m.o.Logger.WithFields(logrus.Fields{"dir": dir, "partitions": len(offline)}).
		Warn("stopped serving the partitions of a failed log directory")
	return offline
}

// OfflinePartitions is the number of hosted partitions in failed log directories (Kafka's
// ReplicaManager OfflineReplicaCount).
func (m *Manager) OfflinePartitions() int {
	n := 0
	for _, p := range m.snapshotPartitions() {
		if p.offline.Load() {
			n++
		}
	}
	return n
}

// UpdateConfig re-resolves a topic's log settings after its /config/topics entry changed.
func (m *Manager) UpdateConfig(topic string) {
	m.mu.RLock()
	var ps []*Partition
	for tp, p := range m.partitions {
		if tp.Topic == topic {
			ps = append(ps, p)
		}
	}
	m.mu.RUnlock()
	if len(ps) == 0 {
		return
	}
	cfg, minISR, err := m.o.LogConfig(topic)
	if err != nil {
		m.o.Logger.WithError(err).WithField("topic", topic).Error("applying changed topic config")
		return
	}
	for _, p := range ps {
		p.mu.Lock()
		if p.log != nil {
			p.log.SetConfig(cfg)
		}
		p.minISR = minISR
		p.mu.Unlock()
	}
}

// Shutdown releases every waiter and refuses further requests. Logs are closed by their Manager.
func (m *Manager) Shutdown() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	close(m.done)
	m.mu.Unlock()
	m.fetchers.shutdown()
	m.alter.shutdown()
	m.wg.Wait()
}
