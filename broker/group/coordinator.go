package group

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/replica"
)

// Config holds the broker settings the coordinator obeys, with Kafka's names.
type Config struct {
	MinSessionTimeoutMs      int32 // group.min.session.timeout.ms
	MaxSessionTimeoutMs      int32 // group.max.session.timeout.ms
	InitialRebalanceDelayMs  int32 // group.initial.rebalance.delay.ms
	MaxSize                  int32 // group.max.size
	CommitRequiredAcks       int16 // offsets.commit.required.acks
	CommitTimeoutMs          int32 // offsets.commit.timeout.ms
	RetentionMs              int64 // offsets.retention.minutes, in ms
	RetentionCheckIntervalMs int64 // offsets.retention.check.interval.ms
	LoadBufferSize           int32 // offsets.load.buffer.size
	MetadataMaxBytes         int32 // offset.metadata.max.bytes
}

// DefaultConfig is Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		MinSessionTimeoutMs: 6000, MaxSessionTimeoutMs: 1800000, InitialRebalanceDelayMs: 3000,
		MaxSize: 1<<31 - 1, CommitRequiredAcks: -1, CommitTimeoutMs: 5000,
		RetentionMs: 7 * 24 * 3600 * 1000, RetentionCheckIntervalMs: 600000,
		LoadBufferSize: 5 << 20, MetadataMaxBytes: 4096,
	}
}

// Appender writes record batches to partitions this broker leads: replica.Manager.Produce.
type Appender interface {
	Produce(ctx context.Context, acks int16, timeout time.Duration,
		parts map[klog.TopicPartition][]byte) map[klog.TopicPartition]replica.ProduceResult
}

// LogSource gives the local log of a partition: klog.Manager.Log. The coordinator reads a
// __consumer_offsets partition from it when it becomes the partition's leader.
type LogSource interface {
	Log(tp klog.TopicPartition) *klog.Log
}

// Options are the coordinator's collaborators; all but Clock and Logger are required.
type Options struct {
	BrokerID int32
	Config   Config
	Replicas Appender
	Logs     LogSource
	// Partitions is the partition count of __consumer_offsets: the topic's if it exists, else
	// offsets.topic.num.partitions (as Kafka, which reads it from ZooKeeper at startup).
	Partitions func() int32
	Clock      Clock
	Logger     logrus.FieldLogger
}

// partitionStatus is what the coordinator knows about one __consumer_offsets partition.
type partitionStatus struct {
	loading bool  // being loaded: requests for its groups answer COORDINATOR_LOAD_IN_PROGRESS
	epoch   int32 // leader epoch of the election that made us coordinator
}

// Coordinator is the group coordinator of one broker: it owns the groups whose
// __consumer_offsets partition this broker leads. Create with New, Start, Shutdown.
type Coordinator struct {
	o     Options
	log   logrus.FieldLogger
	clock Clock

	mu         sync.RWMutex // guards the fields below (docs/locking.md: group.Coordinator.mu)
	active     bool
	groups     map[string]*Group
	partitions map[int32]*partitionStatus // partitions this broker leads (loaded or loading)
	epochs     map[int32]int32            // newest leader epoch seen per partition
	loadQueue  []loadTask
	started    bool

	// writeMu (a leaf, taken under a Group.mu; docs/locking.md: group.Coordinator.writeMu) guards
	// writesClosed and the Add side of writers, so no write goroutine starts once Shutdown waits.
	writeMu      sync.Mutex
	writesClosed bool
	writers      sync.WaitGroup // write goroutines (appendLocked)

	loadWake chan struct{} // buffered 1: the loader has work
	ctx      context.Context
	cancel   context.CancelFunc // ends in-flight writes and the loops at Shutdown
	wg       sync.WaitGroup     // loader and expiry loop
}

type loadTask struct {
	partition int32
	epoch     int32
}

// New returns a coordinator that owns nothing until OnElection.
func New(o Options) *Coordinator {
	if o.Clock == nil {
		o.Clock = WallClock{}
	}
	if o.Logger == nil {
		l := logrus.New()
		l.SetLevel(logrus.WarnLevel)
		o.Logger = l
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Coordinator{o: o, log: o.Logger.WithField("component", "group-coordinator"), clock: o.Clock,
		groups: map[string]*Group{}, partitions: map[int32]*partitionStatus{}, epochs: map[int32]int32{},
		loadWake: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
}

// Start begins serving: the loader and the offset-expiry loop run until Shutdown.
func (c *Coordinator) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return
	}
	c.started, c.active = true, true
	c.wg.Add(2)
	go c.loadLoop()
	go c.expiryLoop()
}

// Shutdown stops serving: every group is dropped (parked requests answered NOT_COORDINATOR),
// timers stopped, in-flight writes cancelled and awaited. Safe to call more than once.
func (c *Coordinator) Shutdown() {
	c.mu.Lock()
	c.active = false
	groups := make([]*Group, 0, len(c.groups))
	for _, g := range c.groups {
		groups = append(groups, g)
	}
	c.groups = map[string]*Group{}
	c.partitions = map[int32]*partitionStatus{}
	c.loadQueue = nil
	c.mu.Unlock()
	c.cancel()
	for _, g := range groups {
		g.mu.Lock()
		c.unloadLocked(g)
		g.mu.Unlock()
	}
	c.writeMu.Lock()
	c.writesClosed = true
	c.writeMu.Unlock()
	c.writers.Wait()
	c.wg.Wait()
}

func (c *Coordinator) nowMs() int64 { return c.clock.Now().UnixMilli() }

// PartitionFor is the __consumer_offsets partition of group under the current partition count.
func (c *Coordinator) PartitionFor(group string) int32 {
	return PartitionFor(group, c.o.Partitions())
}

// api names the request a group status is checked for: what Kafka's isValidGroupId allows.
type api int

const (
	apiJoin api = iota
	apiSync
	apiHeartbeat
	apiLeave
	apiCommit
	apiFetch
	apiDescribe
	apiDelete
	apiOffsetDelete
)

// validate is Kafka's validateGroupStatus: group id, coordinator active, partition loaded,
// partition led here.
func (c *Coordinator) validate(groupID string, a api) error {
	switch a {
	case apiCommit, apiFetch, apiDescribe, apiDelete:
		// The empty group id is allowed for these, for compatibility, as in Kafka.
	default:
		if groupID == "" {
			return ErrInvalidGroupID
		}
	}
	p := c.PartitionFor(groupID)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.active {
		return ErrCoordinatorNotAvailable
	}
	st := c.partitions[p]
	switch {
	case st == nil:
		return fmt.Errorf("%w: %s-%d is not led by broker %d", ErrNotCoordinator, OffsetsTopic, p, c.o.BrokerID)
	case st.loading:
		return fmt.Errorf("%w: %s-%d", ErrCoordinatorLoadInProgress, OffsetsTopic, p)
	}
	return nil
}

// getGroup returns a group in the cache, nil if there is none.
func (c *Coordinator) getGroup(id string) *Group {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.groups[id]
}

// getOrCreateGroup returns the group, creating it Empty if create is set. A group whose
// partition has just been unloaded is not created (nil).
func (c *Coordinator) getOrCreateGroup(id string, create bool) *Group {
	p := c.PartitionFor(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.groups[id]; g != nil || !create {
		return g
	}
	if st := c.partitions[p]; st == nil || st.loading {
		return nil
	}
	g := newGroup(id, p, Empty, c.nowMs())
	c.groups[id] = g
	return g
}

// removeGroup drops a Dead group from the cache (if it is still the cached one).
func (c *Coordinator) removeGroup(g *Group) {
	c.mu.Lock()
	if c.groups[g.id] == g {
		delete(c.groups, g.id)
	}
	c.mu.Unlock()
}

// groupNotExists is Kafka's groupNotExists: this broker coordinates the group and it is absent
// or Dead (GROUP_ID_NOT_FOUND rather than NOT_COORDINATOR).
func (c *Coordinator) groupNotExists(id string) bool {
	p := c.PartitionFor(id)
	c.mu.RLock()
	st := c.partitions[p]
	g := c.groups[id]
	c.mu.RUnlock()
	if st == nil || st.loading {
		return false
	}
	if g == nil {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.is(Dead)
}

// newMemberID is Kafka's member id: the client id (or the instance id of a static member), a
// dash and a random UUID.
func newMemberID(clientID string, instanceID *string) string {
	prefix := clientID
	if instanceID != nil {
		prefix = *instanceID
	}
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
