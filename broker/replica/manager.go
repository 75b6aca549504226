package replica

import (
	"fmt"
	"sync"

	"github.com/sirupsen/logrus"

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
}

// Manager is the set of partitions this broker hosts.
type Manager struct {
	o Options

	mu              sync.RWMutex // guards partitions, controllerEpoch, closed
	partitions      map[klog.TopicPartition]*Partition
	controllerEpoch int32
	closed          bool
	done            chan struct{} // closed by Shutdown: releases every waiter
}

// NewManager returns an empty manager.
func NewManager(o Options) *Manager {
	if o.Logger == nil {
		l := logrus.New()
		l.SetLevel(logrus.WarnLevel)
		o.Logger = l
	}
	return &Manager{o: o, partitions: map[klog.TopicPartition]*Partition{}, controllerEpoch: -1, done: make(chan struct{})}
}

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

	for i, s := range states {
		tp := klog.TopicPartition{Topic: s.Topic, Partition: s.Partition}
		if parts[i] == nil || !contains(s.Replicas, m.o.BrokerID) {
			out[tp] = fmt.Errorf("%w: broker %d is not a replica of %s", ErrUnknownTopicOrPartition, m.o.BrokerID, tp)
			continue
		}
		out[tp] = m.applyState(parts[i], s)
	}
	return out
}

func (m *Manager) applyState(p *Partition, s PartitionState) error {
	p.mu.Lock()
	defer p.mu.Unlock()
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
	logger := m.o.Logger.WithFields(logrus.Fields{"topic": p.tp.Topic, "partition": p.tp.Partition, "leader_epoch": s.LeaderEpoch})
	if s.Leader == m.o.BrokerID {
		// A new leader starts its epoch at its log end: followers truncate to it (Kafka's
		// leader-epoch rule), and acks=all waits for every ISR member from here on.
		if s.LeaderEpoch > p.log.LatestEpoch() {
			if err := p.log.AssignEpochStartOffset(s.LeaderEpoch, p.log.LogEndOffset()); err != nil {
				return fmt.Errorf("%w: %v", ErrKafkaStorage, err)
			}
		}
		p.followerLEO = map[int32]int64{}
		p.maybeAdvanceHWLocked()
		logger.Info("became leader")
	} else {
		logger.WithField("leader", s.Leader).Info("became follower")
	}
	p.wakeLocked() // parked fetches and produces re-check leadership
	return nil
}

// StopReplicas stops serving the partitions; with deletePartition their logs are removed.
func (m *Manager) StopReplicas(parts []klog.TopicPartition, deletePartition bool) map[klog.TopicPartition]error {
	out := make(map[klog.TopicPartition]error, len(parts))
	for _, tp := range parts {
		m.mu.Lock()
		p := m.partitions[tp]
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
}
