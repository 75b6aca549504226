package metadata

import "sort"

// Special leader ids of Kafka's metadata.
const (
	// NoLeader (-1) is a partition without a live leader.
	NoLeader int32 = -1
	// LeaderDuringDelete (-2) is what the controller sends in UpdateMetadata for the partitions
	// of a topic being deleted: the cache drops them.
	LeaderDuringDelete int32 = -2
)

// Endpoint is one listener of a live broker, as the controller announced it.
type Endpoint struct {
	Listener         string // listener name ("PLAINTEXT", "INTERNAL")
	Host             string
	Port             int32
	SecurityProtocol int16 // Kafka's ids: 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL
}

// Broker is one live broker.
type Broker struct {
	ID        int32
	Rack      *string // nil when broker.rack is unset
	Endpoints []Endpoint
}

// Endpoint returns b's endpoint for the named listener.
func (b Broker) Endpoint(listener string) (Endpoint, bool) {
	for _, e := range b.Endpoints {
		if e.Listener == listener {
			return e, true
		}
	}
	return Endpoint{}, false
}

// Partition is one partition's state. Never modified once in a Snapshot.
type Partition struct {
	Partition       int32
	ControllerEpoch int32
	Leader          int32 // NoLeader when offline
	LeaderEpoch     int32
	ISR             []int32
	ZkVersion       int32 // the state znode's dataVersion (partition epoch)
	Replicas        []int32
	OfflineReplicas []int32
}

// Topic is one topic and its partitions. Never modified once in a Snapshot.
type Topic struct {
	Name string
	ID   [16]byte // zero when the controller sent none (UpdateMetadata < v7)
	// Partitions holds the partitions the cache knows, sorted by partition id. A topic's
	// partitions may be incomplete right after creation: the controller announces partitions
	// as it creates their state.
	Partitions []*Partition
}

// Partition returns partition p, nil if the cache does not know it.
func (t *Topic) Partition(p int32) *Partition {
	i := sort.Search(len(t.Partitions), func(i int) bool { return t.Partitions[i].Partition >= p })
	if i < len(t.Partitions) && t.Partitions[i].Partition == p {
		return t.Partitions[i]
	}
	return nil
}

// Snapshot is one immutable view of the cluster. Obtain it with Cache.Snapshot.
type Snapshot struct {
	// Initialized is false until the first UpdateMetadata has been applied.
	Initialized     bool
	ControllerID    int32 // -1 when unknown
	ControllerEpoch int32
	brokers         map[int32]Broker
	brokerIDs       []int32 // sorted ids of brokers
	topics          map[string]*Topic
	topicIDs        map[[16]byte]*Topic
	names           []string // sorted names of topics
}

func emptySnapshot() *Snapshot {
	return &Snapshot{
		ControllerID: -1,
		brokers:      map[int32]Broker{},
		topics:       map[string]*Topic{},
		topicIDs:     map[[16]byte]*Topic{},
	}
}

// Broker returns the live broker id.
func (s *Snapshot) Broker(id int32) (Broker, bool) {
	b, ok := s.brokers[id]
	return b, ok
}

// IsAlive reports whether broker id is live.
func (s *Snapshot) IsAlive(id int32) bool {
	_, ok := s.brokers[id]
	return ok
}

// Brokers returns every live broker, sorted by id.
func (s *Snapshot) Brokers() []Broker {
	out := make([]Broker, 0, len(s.brokerIDs))
	for _, id := range s.brokerIDs {
		out = append(out, s.brokers[id])
	}
	return out
}

// BrokerIDs returns the ids of the live brokers, sorted. The slice must not be modified.
func (s *Snapshot) BrokerIDs() []int32 { return s.brokerIDs }

// Topic returns the named topic.
func (s *Snapshot) Topic(name string) (*Topic, bool) {
	t, ok := s.topics[name]
	return t, ok
}

// TopicByID returns the topic with the given id.
func (s *Snapshot) TopicByID(id [16]byte) (*Topic, bool) {
	t, ok := s.topicIDs[id]
	return t, ok
}

// TopicNames returns every topic name, sorted. The slice must not be modified.
func (s *Snapshot) TopicNames() []string { return s.names }

// Partition returns the state of topic-p.
func (s *Snapshot) Partition(topic string, p int32) (*Partition, bool) {
	t, ok := s.topics[topic]
	if !ok {
		return nil, false
	}
	pt := t.Partition(p)
	return pt, pt != nil
}

// AllPartitionsHaveLeaders reports whether the topic exists with at least n partitions, and
// partitions 0..n-1 all have a leader. CreateTopics and CreatePartitions wait for this, as
// Kafka's DelayedCreatePartitions does.
func (s *Snapshot) AllPartitionsHaveLeaders(topic string, n int32) bool {
	t, ok := s.topics[topic]
	if !ok {
		return false
	}
	for p := int32(0); p < n; p++ {
		pt := t.Partition(p)
		if pt == nil || pt.Leader < 0 {
			return false
		}
	}
	return true
}
