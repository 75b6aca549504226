package controller

import (
	"context"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/gregor-broker/gregor/broker/interbroker"
	"github.com/gregor-broker/gregor/zkmeta"
)

// state is what the active controller knows; owned by the event goroutine.
type state struct {
	epoch          int32
	epochZkVersion int32
	ctx            context.Context // the term: watches set while active
	cancel         context.CancelFunc
	live           map[int32]zkmeta.BrokerInfo
	channels       map[int32]*interbroker.Queue
	topics         map[string]*topicState
	deleting       map[string]map[partitionReplica]bool // pending replica deletions per topic
	// shuttingDown holds brokers in controlled shutdown: live, but never elected leader nor
	// taken back into an ISR (Kafka's shuttingDownBrokerIds). Cleared when they leave.
	shuttingDown map[int32]bool
	reassigning  map[tpKey]*reassignment // partitions in motion (reassign.go)
	// offlineReplicas are, per broker, the replicas it answered KAFKA_STORAGE_ERROR for: in a
	// failed log directory (logdirs.go). Cleared when the broker dies or restarts.
	offlineReplicas map[int32]map[tpKey]bool
}

type topicState struct {
	a     zkmeta.TopicAssignment
	parts map[int32]*zkmeta.PartitionState // nil entry: no state znode yet (New)
}

type partitionReplica struct {
	partition int32
	broker    int32
}

func (s *state) fence() *zkmeta.Fence { return &zkmeta.Fence{EpochZkVersion: s.epochZkVersion} }

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// endpoint is a broker's address on the inter-broker listener.
func (c *Controller) endpoint(b zkmeta.BrokerInfo) (zkmeta.Endpoint, bool) {
	for _, e := range b.Endpoints {
		if e.Listener == c.o.InterBrokerListener {
			return e, true
		}
	}
	if len(b.Endpoints) > 0 {
		return b.Endpoints[0], true
	}
	return zkmeta.Endpoint{}, false
}

func (c *Controller) startChannel(b zkmeta.BrokerInfo) {
	if old := c.st.channels[b.ID]; old != nil {
		old.Stop()
	}
	e, ok := c.endpoint(b)
	if !ok {
		c.log.WithField("broker", b.ID).Warn("broker registration has no endpoint")
		return
	}
	c.st.channels[b.ID] = interbroker.NewQueue(b.ID, net.JoinHostPort(e.Host, strconv.Itoa(e.Port)), interbroker.Options{
		ClientID:       "gregor-controller-" + itoa(c.o.BrokerID),
		Dial:           c.o.Dial,
		RequestTimeout: c.o.SocketTimeout,
		Logger:         c.log,
	})
}

// onFailover is Kafka's onControllerFailover: load everything from ZooKeeper, arm the watches,
// bring every partition online and tell every live broker the whole state.
func (c *Controller) onFailover(epoch, epochZkVersion int32) {
	ctx, cancel := context.WithCancel(c.sessCtx)
	c.st = &state{epoch: epoch, epochZkVersion: epochZkVersion, ctx: ctx, cancel: cancel,
		live: map[int32]zkmeta.BrokerInfo{}, channels: map[int32]*interbroker.Queue{}, topics: map[string]*topicState{},
		deleting: map[string]map[partitionReplica]bool{}, shuttingDown: map[int32]bool{}, reassigning: map[tpKey]*reassignment{},
		offlineReplicas: map[int32]map[tpKey]bool{}}
	c.epoch.Store(epoch)
	c.active.Store(true)
	if err := c.o.ZK.WriteFeature(); err != nil {
		c.log.WithError(err).Warn("writing /feature")
	}
	began := time.Now()
	if !c.loadBrokers() || !c.loadTopics() {
		return
	}
	c.onLogDirEvent(false)
	if c.st == nil {
		return
	}
	loaded := time.Now()
	changed := c.bringOnline(c.topicNames()...)
	if c.st == nil {
		return
	}
	c.log.WithFields(map[string]any{"load": loaded.Sub(began).String(), "elect": time.Since(loaded).String(),
		"partitions_changed": len(changed)}).Info("failover: cluster state loaded, offline partitions elected")
	// Every live broker learns every partition it hosts and the full metadata.
	all := c.allPartitions()
	for id := range c.st.live {
		c.sendLeaderAndIsr(id, c.partitionsOn(id, all), false)
	}
	c.sendUpdateMetadata(c.liveIDs(), all)
	c.onTopicDeletion()
	c.resumeReassignments()
	c.onPreferredElection()
	c.scheduleRebalance(5 * time.Second)
}

type tpKey struct {
	topic     string
	partition int32
}

func (c *Controller) liveIDs() []int32 {
	ids := make([]int32, 0, len(c.st.live))
	for id := range c.st.live {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (c *Controller) topicNames() []string {
	names := make([]string, 0, len(c.st.topics))
	for name := range c.st.topics {
		names = append(names, name)
	}
	return names
}

func (c *Controller) allPartitions() []tpKey {
	var out []tpKey
	for name, t := range c.st.topics {
		for p := range t.a.Partitions {
			out = append(out, tpKey{name, p})
		}
	}
	return out
}

// partitionsOn filters parts to those with a replica on broker id.
func (c *Controller) partitionsOn(id int32, parts []tpKey) []tpKey {
	var out []tpKey
	for _, k := range parts {
		t := c.st.topics[k.topic]
		if t != nil && contains(t.a.Partitions[k.partition], id) {
			out = append(out, k)
		}
	}
	return out
}

func contains(xs []int32, x int32) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// loadBrokers reads the live brokers and arms the /brokers/ids watch.
func (c *Controller) loadBrokers() bool {
	ids, ev, err := c.o.ZK.WatchBrokerIDs()
	if err != nil {
		c.log.WithError(err).Error("reading /brokers/ids")
		c.resign("cannot read brokers")
		c.later(c.retryDelay(), c.elect)
		return false
	}
	c.watch(c.st.ctx, ev, c.onBrokerChange)
	for _, id := range ids {
		b, err := c.o.ZK.GetBroker(id)
		if err != nil {
			continue // gone between the list and the read
		}
		c.st.live[id] = b
		c.startChannel(b)
	}
	return true
}

// loadTopics reads every topic, arms the /brokers/topics and per-topic watches, assigns missing
// topic ids.
func (c *Controller) loadTopics() bool {
	names, ev, err := c.o.ZK.WatchTopics()
	if err != nil {
		c.log.WithError(err).Error("reading /brokers/topics")
		c.resign("cannot read topics")
		c.later(c.retryDelay(), c.elect)
		return false
	}
	c.watch(c.st.ctx, ev, c.onTopicChange)
	var missing []tpKey // every topic's states in one pass of the readers
	for _, name := range names {
		_, m := c.loadAssignment(name)
		if c.st == nil {
			return false
		}
		missing = append(missing, m...)
	}
	c.applyStates(c.readStates(missing))
	return true
}

// retryDelay is how long a failed ZooKeeper read waits before the controller tries again.
func (c *Controller) retryDelay() time.Duration { return time.Second }
