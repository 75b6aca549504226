package metadata

import (
	"context"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Cache is the broker's metadata cache. The zero value is not usable; call New.
type Cache struct {
	mu      sync.RWMutex  // guards snap and changed
	snap    *Snapshot     // current view; replaced, never modified, by Update
	changed chan struct{} // closed and replaced by every Update
}

// New returns an empty, uninitialized cache (no brokers, no topics, controller -1).
func New() *Cache {
	return &Cache{snap: emptySnapshot(), changed: make(chan struct{})}
}

// Snapshot returns the current immutable view.
func (c *Cache) Snapshot() *Snapshot {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.snap
}

// Changed returns a channel closed by the next Update. Take it before checking a condition on
// Snapshot, then wait on it (see the package comment).
func (c *Cache) Changed() <-chan struct{} {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.changed
}

// WaitFor blocks until cond holds on a snapshot or ctx is done; it returns the last snapshot
// it checked and whether cond held on it. It wakes on every Update, never polls.
func (c *Cache) WaitFor(ctx context.Context, cond func(*Snapshot) bool) (*Snapshot, bool) {
	for {
		c.mu.RLock()
		snap, ch := c.snap, c.changed
		c.mu.RUnlock()
		if cond(snap) {
			return snap, true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return snap, false
		}
	}
}

// DeletedPartition names a partition Update dropped (leader -2: topic deletion).
type DeletedPartition struct {
	Topic     string
	Partition int32
}

// Update applies an UpdateMetadata request, as Kafka's ZkMetadataCache.updateMetadata does:
// the live-broker list and the controller id are replaced; the listed partitions are replaced
// or, with leader -2, removed (a topic without partitions left is removed); topics not listed
// are kept. The caller has checked controller and broker epochs. It returns the partitions
// removed and wakes every Changed waiter.
func (c *Cache) Update(req *kmsg.UpdateMetadataRequest) []DeletedPartition {
	brokers := make(map[int32]Broker, len(req.LiveBrokers))
	for _, lb := range req.LiveBrokers {
		brokers[lb.ID] = liveBroker(req.Version, lb)
	}
	ids := make([]int32, 0, len(brokers))
	for id := range brokers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })

	// Group partition states per topic, whatever the request version's shape.
	type topicUpdate struct {
		id    [16]byte
		parts []kmsg.UpdateMetadataRequestTopicPartition
	}
	updates := map[string]*topicUpdate{}
	var order []string
	get := func(name string) *topicUpdate {
		u, ok := updates[name]
		if !ok {
			u = &topicUpdate{}
			updates[name] = u
			order = append(order, name)
		}
		return u
	}
	if req.Version <= 4 {
		for _, ps := range req.PartitionStates {
			u := get(ps.Topic)
			u.parts = append(u.parts, ps)
		}
	} else {
		for _, ts := range req.TopicStates {
			u := get(ts.Topic)
			if ts.TopicID != ([16]byte{}) {
				u.id = ts.TopicID
			}
			u.parts = append(u.parts, ts.PartitionStates...)
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap
	next := &Snapshot{
		Initialized:     true,
		ControllerID:    req.ControllerID,
		ControllerEpoch: req.ControllerEpoch,
		brokers:         brokers,
		brokerIDs:       ids,
		topics:          old.topics,
		topicIDs:        old.topicIDs,
		names:           old.names,
	}
	if next.ControllerID < 0 {
		next.ControllerID = -1
	}
	var deleted []DeletedPartition
	if len(order) > 0 {
		next.topics = make(map[string]*Topic, len(old.topics)+len(order))
		for name, t := range old.topics {
			next.topics[name] = t
		}
		for _, name := range order {
			u := updates[name]
			t, dels := applyTopic(old.topics[name], name, u.id, u.parts)
			deleted = append(deleted, dels...)
			if t == nil {
				delete(next.topics, name)
			} else {
				next.topics[name] = t
			}
		}
		next.topicIDs = make(map[[16]byte]*Topic, len(next.topics))
		next.names = make([]string, 0, len(next.topics))
		for name, t := range next.topics {
			next.names = append(next.names, name)
			if t.ID != ([16]byte{}) {
				next.topicIDs[t.ID] = t
			}
		}
		sort.Strings(next.names)
	}
	c.snap = next
	close(c.changed)
	c.changed = make(chan struct{})
	return deleted
}

// applyTopic returns a new Topic: old's partitions with parts applied (nil when none remain).
func applyTopic(old *Topic, name string, id [16]byte, parts []kmsg.UpdateMetadataRequestTopicPartition) (*Topic, []DeletedPartition) {
	byID := map[int32]*Partition{}
	t := &Topic{Name: name, ID: id}
	if old != nil {
		for _, p := range old.Partitions {
			byID[p.Partition] = p
		}
		if t.ID == ([16]byte{}) {
			t.ID = old.ID
		}
	}
	var deleted []DeletedPartition
	for _, ps := range parts {
		if ps.Leader == LeaderDuringDelete {
			if _, ok := byID[ps.Partition]; ok {
				deleted = append(deleted, DeletedPartition{Topic: name, Partition: ps.Partition})
			}
			delete(byID, ps.Partition)
			continue
		}
		byID[ps.Partition] = &Partition{
			Partition:       ps.Partition,
			ControllerEpoch: ps.ControllerEpoch,
			Leader:          ps.Leader,
			LeaderEpoch:     ps.LeaderEpoch,
			ISR:             cloneInt32s(ps.ISR),
			ZkVersion:       ps.ZKVersion,
			Replicas:        cloneInt32s(ps.Replicas),
			OfflineReplicas: cloneInt32s(ps.OfflineReplicas),
		}
	}
	if len(byID) == 0 {
		return nil, deleted
	}
	t.Partitions = make([]*Partition, 0, len(byID))
	for _, p := range byID {
		t.Partitions = append(t.Partitions, p)
	}
	sort.Slice(t.Partitions, func(i, j int) bool { return t.Partitions[i].Partition < t.Partitions[j].Partition })
	return t, deleted
}

// liveBroker converts one LiveBrokers entry. v0 has a single PLAINTEXT host/port; v1–v2
// endpoints have no listener name, so it is the security protocol's name, as Kafka derives it.
func liveBroker(version int16, lb kmsg.UpdateMetadataRequestLiveBroker) Broker {
	b := Broker{ID: lb.ID}
	if lb.Rack != nil {
		r := *lb.Rack
		b.Rack = &r
	}
	if version == 0 {
		b.Endpoints = []Endpoint{{Listener: "PLAINTEXT", Host: lb.Host, Port: lb.Port}}
		return b
	}
	for _, e := range lb.Endpoints {
		name := e.ListenerName
		if version < 3 || name == "" {
			name = SecurityProtocolName(e.SecurityProtocol)
		}
		b.Endpoints = append(b.Endpoints, Endpoint{Listener: name, Host: e.Host, Port: e.Port, SecurityProtocol: e.SecurityProtocol})
	}
	return b
}

// SecurityProtocolName is Kafka's name of a security protocol id.
func SecurityProtocolName(id int16) string {
	switch id {
	case 0:
		return "PLAINTEXT"
	case 1:
		return "SSL"
	case 2:
		return "SASL_PLAINTEXT"
	case 3:
		return "SASL_SSL"
	}
	return "UNKNOWN"
}

// SecurityProtocolID is the inverse of SecurityProtocolName (-1 for an unknown name).
func SecurityProtocolID(name string) int16 {
	switch name {
	case "PLAINTEXT":
		return 0
	case "SSL":
		return 1
	case "SASL_PLAINTEXT":
		return 2
	case "SASL_SSL":
		return 3
	}
	return -1
}

func cloneInt32s(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return append([]int32(nil), s...)
}
