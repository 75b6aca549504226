package group

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/broker/replica"
)

// newMemberJoinTimeoutMs bounds how long a new member's JoinGroup may stay parked (Kafka's
// NewMemberJoinTimeoutMs): a client that gave up on its join cannot heartbeat, so it would
// otherwise hold the rebalance open until the rebalance timeout of every later round.
const newMemberJoinTimeoutMs = 5 * 60 * 1000

// JoinRequest is one JoinGroup as the coordinator sees it.
type JoinRequest struct {
	GroupID    string
	MemberID   string  // "" for a member joining for the first time
	InstanceID *string // group.instance.id of a static member (v5+)
	// RequireKnownMemberID: v4+ dynamic members first get a member id with MEMBER_ID_REQUIRED
	// and join again with it (KIP-394).
	RequireKnownMemberID bool
	ClientID             string
	ClientHost           string
	RebalanceTimeoutMs   int32
	SessionTimeoutMs     int32
	ProtocolType         string
	Protocols            []Protocol
	Reason               string
	// SupportsSkipAssignment: JoinGroup v9+ (KIP-814). A static leader rejoining a stable group
	// is then told it is the leader, with the members, and to skip the assignment.
	SupportsSkipAssignment bool
}

// JoinMember is one member as the leader sees it in its JoinGroup answer.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// JoinResult answers a JoinGroup. On error GenerationID is -1 and MemberID is what the client
// should use next (the new id with MEMBER_ID_REQUIRED).
type JoinResult struct {
	Err          error
	MemberID     string
	GenerationID int32
	ProtocolType *string
	ProtocolName *string
	LeaderID     string
	Members      []JoinMember // the leader's answer only
	// SkipAssignment: the leader must not compute an assignment (KIP-814, v9+).
	SkipAssignment bool
}

func joinError(memberID string, err error) JoinResult {
	return JoinResult{Err: err, MemberID: memberID, GenerationID: -1}
}

// JoinGroup handles a JoinGroup and waits for its answer: at once for errors and for members of
// a stable group rejoining unchanged, otherwise when the rebalance completes. ctx ending (the
// connection closed) stops the wait; the member stays parked, as in Kafka, until the rebalance
// completes or its join timeout removes it.
func (c *Coordinator) JoinGroup(ctx context.Context, req JoinRequest) JoinResult {
	ch := make(chan JoinResult, 1)
	c.joinGroup(req, func(r JoinResult) {
		select {
		case ch <- r:
		default:
		}
	})
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		return joinError(req.MemberID, ErrRebalanceInProgress)
	}
}

// joinGroup is Kafka's handleJoinGroup; cb is called exactly once, possibly later, possibly with
// a group's mu held, and must not block.
func (c *Coordinator) joinGroup(req JoinRequest, cb func(JoinResult)) {
	if err := c.validate(req.GroupID, apiJoin); err != nil {
		cb(joinError(req.MemberID, err))
		return
	}
	cfg := c.o.Config
	if req.SessionTimeoutMs < cfg.MinSessionTimeoutMs || req.SessionTimeoutMs > cfg.MaxSessionTimeoutMs {
		cb(joinError(req.MemberID, ErrInvalidSessionTimeout))
		return
	}
	unknown := req.MemberID == ""
	g := c.getOrCreateGroup(req.GroupID, unknown)
	if g == nil {
		if unknown {
			cb(joinError(req.MemberID, ErrNotCoordinator))
		} else {
			cb(joinError(req.MemberID, ErrUnknownMemberID))
		}
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case !c.acceptJoiningMember(g, req.MemberID):
		if g.has(req.MemberID) {
			c.removeMemberAndUpdateGroupLocked(g, g.members[req.MemberID], "group.max.size reached")
		}
		if req.InstanceID != nil && g.static[*req.InstanceID] == req.MemberID {
			delete(g.static, *req.InstanceID)
		}
		cb(joinError("", ErrGroupMaxSizeReached))
	case unknown:
		c.joinUnknownLocked(g, req, cb)
	default:
		c.joinKnownLocked(g, req, cb)
	}
	if g.is(PreparingRebalance) {
		c.tryCompleteJoinLocked(g)
	}
}

// acceptJoiningMember is Kafka's group.max.size rule: while preparing, the members already
// rejoined count (so the last to rejoin are the ones turned away); otherwise the members.
func (c *Coordinator) acceptJoiningMember(g *Group, memberID string) bool {
	max := int(c.o.Config.MaxSize)
	switch g.state {
	case Empty, Dead:
		return true
	case PreparingRebalance:
		m := g.members[memberID]
		return (m != nil && m.awaitingJoin()) || g.awaitingJoin < max
	default:
		return g.has(memberID) || len(g.members) < max
	}
}

// joinUnknownLocked is Kafka's doUnknownJoinGroup: a join without member id.
func (c *Coordinator) joinUnknownLocked(g *Group, req JoinRequest, cb func(JoinResult)) {
	if g.is(Dead) {
		// Unloaded or deleted meanwhile: the client finds the coordinator again.
		cb(joinError(req.MemberID, ErrCoordinatorNotAvailable))
		return
	}
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		cb(joinError(req.MemberID, ErrInconsistentGroupProtocol))
		return
	}
	id := newMemberID(req.ClientID, req.InstanceID)
	switch {
	case req.InstanceID != nil && g.hasStaticMember(req.InstanceID):
		c.staticRejoinLocked(g, req, id, cb)
	case req.InstanceID == nil && req.RequireKnownMemberID:
		c.addPendingLocked(g, id, req.SessionTimeoutMs)
		cb(joinError(id, ErrMemberIDRequired))
	default:
		c.addMemberAndRebalanceLocked(g, req, id, cb)
	}
}

// joinKnownLocked is Kafka's doCurrentMemberJoinGroup: a join with a member id.
func (c *Coordinator) joinKnownLocked(g *Group, req JoinRequest, cb func(JoinResult)) {
	id := req.MemberID
	switch {
	case g.is(Dead):
		cb(joinError(id, ErrCoordinatorNotAvailable))
		return
	case !g.supportsProtocols(req.ProtocolType, req.Protocols):
		cb(joinError(id, ErrInconsistentGroupProtocol))
		return
	case g.isPending(id):
		if req.InstanceID != nil { // pending ids are handed to dynamic members only
			cb(joinError(id, ErrUnknownMemberID))
			return
		}
		c.addMemberAndRebalanceLocked(g, req, id, cb)
		return
	case g.staticMemberFenced(id, req.InstanceID):
		cb(joinError(id, ErrFencedInstanceID))
		return
	case !g.has(id) || (req.InstanceID != nil && !g.hasStaticMember(req.InstanceID)):
		cb(joinError(id, ErrUnknownMemberID))
		return
	}
	m := g.members[id]
	switch g.state {
	case PreparingRebalance:
		c.updateMemberAndRebalanceLocked(g, m, req, cb, "member joining during PreparingRebalance")
	case CompletingRebalance:
		if m.matches(req.Protocols) {
			// The member lost the answer of this generation's join: answer it again.
			r := c.currentJoinResult(g, m)
			if g.isLeader(id) {
				r.Members = g.currentMemberMetadata()
			}
			cb(r)
		} else {
			c.updateMemberAndRebalanceLocked(g, m, req, cb, "member metadata changed during CompletingRebalance")
		}
	case Stable:
		if g.isLeader(id) || !m.matches(req.Protocols) {
			// The leader rejoining asks for a new assignment (topic metadata changed, say).
			c.updateMemberAndRebalanceLocked(g, m, req, cb, "leader or changed member rejoining a stable group")
		} else {
			cb(c.currentJoinResult(g, m))
		}
	default: // Empty: a member id from a generation that is gone
		cb(joinError(id, ErrUnknownMemberID))
	}
}

func (c *Coordinator) currentJoinResult(g *Group, m *member) JoinResult {
	return JoinResult{MemberID: m.id, GenerationID: g.generation, ProtocolType: g.protocolType,
		ProtocolName: g.protocol, LeaderID: g.leader}
}

// currentMemberMetadata is what the leader gets: every member with its metadata for the
// selected protocol.
func (g *Group) currentMemberMetadata() []JoinMember {
	out := make([]JoinMember, 0, len(g.members))
	for _, m := range g.membersInOrder() {
		out = append(out, JoinMember{MemberID: m.id, InstanceID: m.instanceID, Metadata: m.metadata(*g.protocol)})
	}
	return out
}

func (c *Coordinator) addPendingLocked(g *Group, id string, sessionTimeoutMs int32) {
	p := &pendingMember{}
	g.pending[id] = p
	p.timer = c.clock.AfterFunc(msDur(sessionTimeoutMs), func() { c.onPendingExpired(g, id, p) })
}

// onPendingExpired drops a MEMBER_ID_REQUIRED member that never came back.
func (c *Coordinator) onPendingExpired(g *Group, id string, p *pendingMember) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.is(Dead) || g.pending[id] != p {
		return
	}
	c.logger(g).WithField("member", id).Info("pending member removed after its session timeout")
	delete(g.pending, id)
	if g.is(PreparingRebalance) {
		c.tryCompleteJoinLocked(g)
	}
}

func (c *Coordinator) addMemberAndRebalanceLocked(g *Group, req JoinRequest, id string, cb func(JoinResult)) {
	m := &member{id: id, instanceID: req.InstanceID, clientID: req.ClientID, clientHost: req.ClientHost,
		rebalanceTimeoutMs: req.RebalanceTimeoutMs, sessionTimeoutMs: req.SessionTimeoutMs,
		protocolType: req.ProtocolType, protocols: req.Protocols, isNew: true, joinWaiter: cb}
	if g.is(PreparingRebalance) && g.generation == 0 {
		g.newMemberAdded = true
	}
	g.add(m)
	// A new member cannot heartbeat yet; its join deadline is this timer.
	c.scheduleHeartbeatLocked(g, m, newMemberJoinTimeoutMs)
	c.maybePrepareRebalanceLocked(g, "adding member "+id)
}

func (c *Coordinator) updateMemberAndRebalanceLocked(g *Group, m *member, req JoinRequest, cb func(JoinResult), reason string) {
	m.rebalanceTimeoutMs, m.sessionTimeoutMs = req.RebalanceTimeoutMs, req.SessionTimeoutMs
	g.updateMember(m, req.Protocols, cb)
	c.maybePrepareRebalanceLocked(g, reason)
}

// staticRejoinLocked is Kafka's updateStaticMemberAndRebalance: a static member restarted (new
// member id for the same instance id). In a stable group whose protocol stays the same it takes
// over the old member's assignment without a rebalance, once the new member id is stored.
func (c *Coordinator) staticRejoinLocked(g *Group, req JoinRequest, newID string, cb func(JoinResult)) {
	instance := *req.InstanceID
	oldID := g.static[instance]
	oldLeader := g.leader
	m := g.replaceStaticMember(instance, oldID, newID)
	c.scheduleHeartbeatLocked(g, m, m.sessionTimeoutMs)
	oldProtocols, oldRebalance, oldSession := m.protocols, m.rebalanceTimeoutMs, m.sessionTimeoutMs
	m.rebalanceTimeoutMs, m.sessionTimeoutMs = req.RebalanceTimeoutMs, req.SessionTimeoutMs
	g.updateMember(m, req.Protocols, cb)
	c.logger(g).WithFields(logrus.Fields{"instance": instance, "old_member": oldID, "member": newID}).
		Info("static member rejoined with a new member id")
	switch g.state {
	case Stable:
		if g.protocol == nil || *g.protocol != g.selectProtocol() {
			c.maybePrepareRebalanceLocked(g, "static member "+instance+" changes the group's protocol")
			return
		}
		assignment := map[string][]byte{}
		for _, mm := range g.members {
			assignment[mm.id] = mm.assignment
		}
		gen := g.generation
		batch := buildBatch(c.nowMs(), []kv{{groupKey(g.id), groupValue(g, assignment)}})
		c.appendLocked(g, batch, func(res replica.ProduceResult) {
			g.mu.Lock()
			defer g.mu.Unlock()
			if g.is(Dead) || g.generation != gen || g.members[newID] != m || !m.awaitingJoin() {
				return // a rebalance or an unload answered the join meanwhile
			}
			if err := storeError(res.Err); err != nil {
				c.logger(g).WithError(err).Warn("storing a static member's new member id failed; reverting")
				m.rebalanceTimeoutMs, m.sessionTimeoutMs = oldRebalance, oldSession
				g.updateMember(m, oldProtocols, nil)
				old := g.replaceStaticMember(instance, newID, oldID)
				c.scheduleHeartbeatLocked(g, old, old.sessionTimeoutMs)
				cb(JoinResult{Err: err, GenerationID: g.generation, ProtocolType: g.protocolType,
					ProtocolName: g.protocol, LeaderID: oldLeader})
				return
			}
			r := c.currentJoinResult(g, m)
			if req.SupportsSkipAssignment {
				// KIP-814: a rejoined leader learns it leads (to keep watching metadata) but
				// skips the assignment, which a stable group would not distribute.
				if g.isLeader(newID) {
					r.Members, r.SkipAssignment = g.currentMemberMetadata(), true
				}
			} else {
				// Before v9 the old leader id is returned on purpose: the rejoined member must not
				// take itself for the leader and compute an assignment nobody would receive.
				r.LeaderID = oldLeader
			}
			g.invokeJoin(m, r)
		})
	case CompletingRebalance:
		// The leader may be assigning to the old member id: start over.
		c.prepareRebalanceLocked(g, "static member "+instance+" rejoined during CompletingRebalance")
	}
}

func (c *Coordinator) maybePrepareRebalanceLocked(g *Group, reason string) {
	if g.canRebalance() {
		c.prepareRebalanceLocked(g, reason)
	}
}

// prepareRebalanceLocked enters PreparingRebalance: parked syncs are told to rejoin, and the join
// phase waits for every member (DelayedJoin, bounded by the largest rebalance timeout) or, for an
// empty group, the initial rebalance delay (InitialDelayedJoin), extended while members keep
// arriving, up to the rebalance timeout.
func (c *Coordinator) prepareRebalanceLocked(g *Group, reason string) {
	if g.is(CompletingRebalance) {
		c.resetAndPropagateAssignmentErrorLocked(g, ErrRebalanceInProgress)
	}
	g.stopSyncTimer()
	wasEmpty := g.is(Empty)
	g.transition(PreparingRebalance, c.nowMs())
	c.logger(g).WithFields(logrus.Fields{"generation": g.generation, "reason": reason}).Info("preparing to rebalance")
	if wasEmpty {
		delay := c.o.Config.InitialRebalanceDelayMs
		c.armJoinTimerLocked(g, delay, true, max(g.maxRebalanceTimeoutMs()-delay, 0))
		return
	}
	c.armJoinTimerLocked(g, g.maxRebalanceTimeoutMs(), false, 0)
	c.tryCompleteJoinLocked(g)
}

func (c *Coordinator) armJoinTimerLocked(g *Group, delayMs int32, initial bool, remainingMs int32) {
	g.stopJoinTimer()
	seq := g.joinSeq
	g.initialDelay, g.initialDelayMs, g.initialRemainingMs = initial, delayMs, remainingMs
	g.joinTimer = c.clock.AfterFunc(msDur(delayMs), func() { c.onJoinTimer(g, seq) })
}

func (g *Group) stopJoinTimer() {
	g.joinSeq++
	if g.joinTimer != nil {
		g.joinTimer.Stop()
		g.joinTimer = nil
	}
	g.initialDelay = false
}

// onJoinTimer: the rebalance timeout (or initial delay) ran out.
func (c *Coordinator) onJoinTimer(g *Group, seq uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if seq != g.joinSeq || !g.is(PreparingRebalance) {
		return // stale: the join completed or was re-armed meanwhile
	}
	g.joinTimer = nil
	if g.initialDelay && g.newMemberAdded && g.initialRemainingMs != 0 {
		g.newMemberAdded = false
		delay := min(c.o.Config.InitialRebalanceDelayMs, g.initialRemainingMs)
		remaining := max(g.initialRemainingMs-g.initialDelayMs, 0)
		c.armJoinTimerLocked(g, delay, true, remaining)
		return
	}
	c.completeJoinLocked(g)
}

// tryCompleteJoinLocked completes the join phase early once every member has rejoined (never
// during the initial delay, which always runs out).
func (c *Coordinator) tryCompleteJoinLocked(g *Group) {
	if g.is(PreparingRebalance) && !g.initialDelay && g.hasAllMembersJoined() {
		c.completeJoinLocked(g)
	}
}

// completeJoinLocked is Kafka's onCompleteJoin: drop dynamic members that did not rejoin, start
// the next generation and answer every parked join (the member list to the leader only).
func (c *Coordinator) completeJoinLocked(g *Group) {
	g.stopJoinTimer()
	for _, m := range g.membersInOrder() {
		if !m.awaitingJoin() && m.instanceID == nil {
			c.logger(g).WithField("member", m.id).Info("removing member that did not rejoin in time")
			g.remove(m.id)
		}
	}
	if g.is(Dead) {
		return
	}
	if !g.electJoinedLeader() && len(g.members) > 0 {
		// Only static members that have not rejoined are left: wait for them (or for their
		// session timeouts) another rebalance timeout.
		c.logger(g).Warn("no member rejoined; waiting another rebalance timeout")
		// Never a zero wait: a client asking for a 0ms rebalance timeout must not make this
		// re-arm spin.
		c.armJoinTimerLocked(g, max(g.maxRebalanceTimeoutMs(), c.o.Config.MinSessionTimeoutMs, 100), false, 0)
		return
	}
	g.newMemberAdded = false
	g.initNextGeneration(c.nowMs())
	log := c.logger(g).WithField("generation", g.generation)
	if g.is(Empty) {
		log.Info("group is empty")
		batch := buildBatch(c.nowMs(), []kv{{groupKey(g.id), groupValue(g, nil)}})
		c.appendLocked(g, batch, func(res replica.ProduceResult) {
			if err := storeError(res.Err); err != nil {
				// The previous generation stays in the log; with no members it is harmless.
				log.WithError(err).Warn("writing the empty group's metadata failed")
			}
		})
		return
	}
	log.WithFields(logrus.Fields{"members": len(g.members), "protocol": *g.protocol, "leader": g.leader}).Info("stabilized group")
	for _, m := range g.membersInOrder() {
		r := c.currentJoinResult(g, m)
		if g.isLeader(m.id) {
			r.Members = g.currentMemberMetadata()
		}
		g.invokeJoin(m, r)
		c.scheduleHeartbeatLocked(g, m, m.sessionTimeoutMs)
		m.isNew = false
		g.pendingSync[m.id] = true
	}
	c.armSyncTimerLocked(g)
}

// armSyncTimerLocked waits a rebalance timeout for every member of the new generation to send
// its SyncGroup; members that do not are removed and the group rebalances without them.
func (c *Coordinator) armSyncTimerLocked(g *Group) {
	if g.syncTimer != nil {
		g.syncTimer.Stop()
	}
	g.syncSeq++
	seq, gen := g.syncSeq, g.generation
	g.syncTimer = c.clock.AfterFunc(msDur(g.maxRebalanceTimeoutMs()), func() { c.onSyncTimer(g, seq, gen) })
}

// onSyncTimer is Kafka's onExpirePendingSync.
func (c *Coordinator) onSyncTimer(g *Group, seq uint64, gen int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if seq != g.syncSeq || gen != g.generation || !(g.is(CompletingRebalance) || g.is(Stable)) {
		return
	}
	g.syncTimer = nil
	if len(g.pendingSync) == 0 {
		return
	}
	var gone []string
	for _, m := range g.membersInOrder() {
		if g.pendingSync[m.id] {
			gone = append(gone, m.id)
		}
	}
	for _, id := range gone {
		g.invokeJoin(g.members[id], joinError("", ErrUnknownMemberID))
		g.remove(id)
	}
	c.logger(g).WithField("members", gone).Info("removed members that did not send SyncGroup in time")
	c.prepareRebalanceLocked(g, "members did not sync in time")
}

// syncedLocked notes that a member sent its SyncGroup for the current generation.
func (g *Group) syncedLocked(id string) {
	delete(g.pendingSync, id)
	if len(g.pendingSync) == 0 && g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
}

// removeMemberAndUpdateGroupLocked removes a member that left or expired and moves the group on.
func (c *Coordinator) removeMemberAndUpdateGroupLocked(g *Group, m *member, reason string) {
	// A new member may expire with its join parked: tell it, so a live client joins again.
	g.invokeJoin(m, joinError("", ErrUnknownMemberID))
	g.invokeSync(m, SyncResult{Err: ErrUnknownMemberID})
	g.remove(m.id)
	switch g.state {
	case Stable, CompletingRebalance:
		c.maybePrepareRebalanceLocked(g, reason)
	case PreparingRebalance:
		c.tryCompleteJoinLocked(g)
	}
}

// unloadLocked makes the group Dead and answers its parked requests NOT_COORDINATOR (its
// partition moved away, or the broker is shutting down). Kafka's onGroupUnloaded.
func (c *Coordinator) unloadLocked(g *Group) {
	if g.is(Dead) {
		return
	}
	g.transition(Dead, c.nowMs())
	g.stopJoinTimer()
	g.stopSyncTimer()
	for id, p := range g.pending {
		if p.timer != nil {
			p.timer.Stop()
		}
		delete(g.pending, id)
	}
	for _, m := range g.membersInOrder() {
		m.stopHeartbeat()
		g.invokeJoin(m, joinError(m.id, ErrNotCoordinator))
		g.invokeSync(m, SyncResult{Err: ErrNotCoordinator})
	}
}

func (c *Coordinator) logger(g *Group) logrus.FieldLogger {
	return c.log.WithFields(logrus.Fields{"group": g.id, "state": g.state.String()})
}

func msDur(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }
