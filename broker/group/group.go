package group

import (
	"fmt"
	"sort"
	"sync"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// Offset is a committed offset (Kafka's OffsetAndMetadata).
type Offset struct {
	Offset          int64
	LeaderEpoch     int32 // -1: not given
	Metadata        string
	CommitTimestamp int64 // ms
	ExpireTimestamp int64 // ms; -1 unless an OffsetCommit v2–v4 asked for a retention time
}

// committed is an offset in the cache with the log offset of the record that stored it, so that
// of two writes finishing out of order the one later in the log wins, as it will on reload.
type committed struct {
	Offset
	logOffset int64
}

// Group is one consumer group (Kafka's GroupMetadata): its state, members, generation and
// committed offsets. Every field below mu is guarded by it (docs/locking.md: group.Group.mu).
type Group struct {
	id        string
	partition int32 // its __consumer_offsets partition

	mu             sync.Mutex
	state          State
	stateTimestamp int64 // ms of the last transition; -1 when unknown (loaded from an old record)
	generation     int32
	protocolType   *string // nil: none (a group used only to store offsets)
	protocol       *string // the selected protocol of the current generation
	leader         string  // "" = none

	members         map[string]*member
	order           []string          // member ids in the order they joined, for stable output
	static          map[string]string // group.instance.id → member id
	pending         map[string]*pendingMember
	supported       map[string]int // protocol name → members supporting it
	awaitingJoin    int
	newMemberAdded  bool // a member joined during the initial delay: extend it
	subscribed      map[string]bool
	subscribedKnown bool // subscribed was computed from consumer-protocol metadata

	joinTimer          Timer
	joinSeq            uint64
	initialDelay       bool  // the armed join timer is the initial rebalance delay
	initialDelayMs     int32 // length of the armed initial delay
	initialRemainingMs int32 // what is left of the rebalance timeout after this delay

	// Members of the current generation that have not sent their SyncGroup yet; the sync timer
	// (the rebalance timeout) removes them and starts over (Kafka 3.x's DelayedSync).
	pendingSync map[string]bool
	syncTimer   Timer
	syncSeq     uint64

	offsets        map[klog.TopicPartition]committed
	pendingCommits map[klog.TopicPartition]int // writes in flight per partition

	lastWrite chan struct{} // closed when the group's latest __consumer_offsets write is done
}

// pendingMember is a member id handed out with MEMBER_ID_REQUIRED that has not rejoined yet.
type pendingMember struct {
	timer Timer
	seq   uint64
}

func newGroup(id string, partition int32, state State, nowMs int64) *Group {
	return &Group{id: id, partition: partition, state: state, stateTimestamp: nowMs,
		members: map[string]*member{}, static: map[string]string{}, pending: map[string]*pendingMember{},
		supported: map[string]int{}, offsets: map[klog.TopicPartition]committed{}, pendingSync: map[string]bool{},
		pendingCommits: map[klog.TopicPartition]int{}}
}

// ID is the group id.
func (g *Group) ID() string { return g.id }

func (g *Group) is(s State) bool { return g.state == s }

// transition moves to s; an illegal transition is a bug in the coordinator, reported loudly.
func (g *Group) transition(s State, nowMs int64) {
	if !canTransition(g.state, s) {
		panic(fmt.Sprintf("group %s: illegal transition %s → %s", g.id, g.state, s))
	}
	g.state = s
	g.stateTimestamp = nowMs
}

// canRebalance: PreparingRebalance may be entered from the current state.
func (g *Group) canRebalance() bool { return canTransition(g.state, PreparingRebalance) }

func (g *Group) has(id string) bool { _, ok := g.members[id]; return ok }

func (g *Group) isPending(id string) bool { _, ok := g.pending[id]; return ok }

func (g *Group) isLeader(id string) bool { return g.leader != "" && g.leader == id }

func (g *Group) hasStaticMember(instanceID *string) bool {
	if instanceID == nil {
		return false
	}
	_, ok := g.static[*instanceID]
	return ok
}

// staticMemberFenced: the instance id belongs to a different member id (KIP-345).
func (g *Group) staticMemberFenced(memberID string, instanceID *string) bool {
	if instanceID == nil {
		return false
	}
	cur, ok := g.static[*instanceID]
	return ok && cur != memberID
}

func (g *Group) membersInOrder() []*member {
	out := make([]*member, 0, len(g.order))
	for _, id := range g.order {
		out = append(out, g.members[id])
	}
	return out
}

// add makes m a member; the first member sets the protocol type and becomes leader.
func (g *Group) add(m *member) {
	if len(g.members) == 0 {
		g.protocolType = strPtr(m.protocolType)
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.members[m.id] = m
	g.order = append(g.order, m.id)
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	for _, p := range m.protocols {
		g.supported[p.Name]++
	}
	if m.awaitingJoin() {
		g.awaitingJoin++
	}
	delete(g.pending, m.id)
}

// remove drops a member (and a pending member of that id); a leaving leader hands leadership
// to the longest-standing remaining member.
func (g *Group) remove(id string) {
	if m, ok := g.members[id]; ok {
		for _, p := range m.protocols {
			g.supported[p.Name]--
			if g.supported[p.Name] == 0 {
				delete(g.supported, p.Name)
			}
		}
		if m.awaitingJoin() {
			g.awaitingJoin--
		}
		if m.instanceID != nil && g.static[*m.instanceID] == id {
			delete(g.static, *m.instanceID)
		}
		m.stopHeartbeat()
		delete(g.members, id)
		for i, o := range g.order {
			if o == id {
				g.order = append(g.order[:i:i], g.order[i+1:]...)
				break
			}
		}
	}
	if g.isLeader(id) {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
	if p, ok := g.pending[id]; ok {
		if p.timer != nil {
			p.timer.Stop()
		}
		delete(g.pending, id)
	}
	delete(g.pendingSync, id)
}

// stopSyncTimer forgets the members expected to sync and disarms the sync timer.
func (g *Group) stopSyncTimer() {
	g.syncSeq++
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
	clear(g.pendingSync)
}

// setJoinWaiter parks (or clears, with nil) a member's JoinGroup, keeping the count of awaiting
// members right. A join replacing a parked one answers the old one: its client has moved on.
func (g *Group) setJoinWaiter(m *member, w func(JoinResult)) {
	if old := m.joinWaiter; old != nil && w != nil {
		old(joinError(m.id, ErrRebalanceInProgress))
	}
	switch {
	case w != nil && m.joinWaiter == nil:
		g.awaitingJoin++
	case w == nil && m.joinWaiter != nil:
		g.awaitingJoin--
	}
	m.joinWaiter = w
}

// updateMember replaces a member's protocols and parks its join.
func (g *Group) updateMember(m *member, protocols []Protocol, w func(JoinResult)) {
	for _, p := range m.protocols {
		g.supported[p.Name]--
		if g.supported[p.Name] == 0 {
			delete(g.supported, p.Name)
		}
	}
	for _, p := range protocols {
		g.supported[p.Name]++
	}
	m.protocols = protocols
	g.setJoinWaiter(m, w)
}

// invokeJoin answers a member's parked join, if any.
func (g *Group) invokeJoin(m *member, r JoinResult) {
	if m.joinWaiter != nil {
		w := m.joinWaiter
		m.joinWaiter = nil
		g.awaitingJoin--
		w(r)
	}
}

// invokeSync answers a member's parked sync, if any.
func (g *Group) invokeSync(m *member, r SyncResult) {
	if m.syncWaiter != nil {
		w := m.syncWaiter
		m.syncWaiter = nil
		w(r)
	}
}

// hasAllMembersJoined: every member has a parked join and no MEMBER_ID_REQUIRED member is
// still expected.
func (g *Group) hasAllMembersJoined() bool {
	return len(g.members) == g.awaitingJoin && len(g.pending) == 0
}

// maxRebalanceTimeoutMs is the largest rebalance timeout among the members.
func (g *Group) maxRebalanceTimeoutMs() int32 {
	var t int32
	for _, m := range g.members {
		if m.rebalanceTimeoutMs > t {
			t = m.rebalanceTimeoutMs
		}
	}
	return t
}

// supportsProtocols is Kafka's check for a joining member: an empty group takes any non-empty
// type and protocol list; otherwise the type must match and one protocol must be supported by
// every current member.
func (g *Group) supportsProtocols(protocolType string, protocols []Protocol) bool {
	if g.is(Empty) {
		return protocolType != "" && len(protocols) > 0
	}
	if g.protocolType == nil || *g.protocolType != protocolType {
		return false
	}
	for _, p := range protocols {
		if g.supported[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

// selectProtocol picks the protocol supported by every member that most members prefer; ties
// go to the protocol preferred by the longest-standing member, so the choice is deterministic.
func (g *Group) selectProtocol() string {
	candidates := map[string]bool{}
	for name, n := range g.supported {
		if n == len(g.members) {
			candidates[name] = true
		}
	}
	votes := map[string]int{}
	var first []string
	for _, m := range g.membersInOrder() {
		v := m.vote(candidates)
		if votes[v] == 0 {
			first = append(first, v)
		}
		votes[v]++
	}
	best := ""
	for _, name := range first {
		if votes[name] > votes[best] || best == "" {
			best = name
		}
	}
	return best
}

// electJoinedLeader makes sure the leader is a member that rejoined; false if none did.
func (g *Group) electJoinedLeader() bool {
	if g.leader == "" {
		return false
	}
	if l := g.members[g.leader]; l != nil && l.awaitingJoin() {
		return true
	}
	for _, m := range g.membersInOrder() {
		if m.awaitingJoin() {
			g.leader = m.id
			return true
		}
	}
	return false
}

// initNextGeneration starts a generation: CompletingRebalance with a selected protocol, or Empty.
func (g *Group) initNextGeneration(nowMs int64) {
	g.generation++
	if len(g.members) > 0 {
		p := g.selectProtocol()
		g.protocol = &p
		g.transition(CompletingRebalance, nowMs)
	} else {
		g.protocol = nil
		g.transition(Empty, nowMs)
	}
	g.computeSubscribed()
}

// computeSubscribed derives the topics a consumer group reads from its members' subscriptions
// (Kafka's subscribedTopics); unknown for other protocol types or unreadable metadata.
func (g *Group) computeSubscribed() {
	g.subscribed, g.subscribedKnown = nil, false
	if g.protocolType == nil || *g.protocolType != consumerProtocolType || g.protocol == nil {
		return
	}
	topics := map[string]bool{}
	for _, m := range g.members {
		ts, ok := subscriptionTopics(m.metadata(*g.protocol))
		if !ok {
			return
		}
		for _, t := range ts {
			topics[t] = true
		}
	}
	g.subscribed, g.subscribedKnown = topics, true
}

// replaceStaticMember hands an instance id's member over to a new member id.
func (g *Group) replaceStaticMember(instanceID, oldID, newID string) *member {
	m := g.members[oldID]
	delete(g.members, oldID)
	m.stopHeartbeat()
	// A duplicate instance parked under the old id is fenced at once.
	g.invokeJoin(m, joinError(oldID, ErrFencedInstanceID))
	g.invokeSync(m, SyncResult{Err: ErrFencedInstanceID})
	m.id = newID
	g.members[newID] = m
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
	for i, o := range g.order {
		if o == oldID {
			g.order[i] = newID
		}
	}
	if g.leader == oldID {
		g.leader = newID
	}
	g.static[instanceID] = newID
	return m
}

// offset returns a partition's committed offset.
func (g *Group) offset(tp klog.TopicPartition) (committed, bool) {
	c, ok := g.offsets[tp]
	return c, ok
}

// hasOffsets: committed offsets or writes of some in flight.
func (g *Group) hasOffsets() bool { return len(g.offsets) > 0 || len(g.pendingCommits) > 0 }

// sortedOffsetPartitions lists the partitions with a committed offset, sorted.
func (g *Group) sortedOffsetPartitions() []klog.TopicPartition {
	tps := make([]klog.TopicPartition, 0, len(g.offsets))
	for tp := range g.offsets {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
	return tps
}
