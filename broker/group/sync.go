package group

import (
	"context"

	"github.com/gregor-broker/gregor/broker/replica"
)

// SyncRequest is one SyncGroup as the coordinator sees it.
type SyncRequest struct {
	GroupID      string
	MemberID     string
	InstanceID   *string
	GenerationID int32
	ProtocolType *string // v5+: must match the group's
	ProtocolName *string // v5+: must match the group's
	// Assignments is the leader's assignment per member id (empty from followers).
	Assignments map[string][]byte
}

// SyncResult answers a SyncGroup with the member's assignment.
type SyncResult struct {
	Err          error
	ProtocolType *string
	ProtocolName *string
	Assignment   []byte
}

// SyncGroup handles a SyncGroup and waits for its answer: at once in a stable group, otherwise
// when the leader's assignment is stored (or the rebalance starts over).
func (c *Coordinator) SyncGroup(ctx context.Context, req SyncRequest) SyncResult {
	ch := make(chan SyncResult, 1)
	c.syncGroup(req, func(r SyncResult) {
		select {
		case ch <- r:
		default:
		}
	})
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		return SyncResult{Err: ErrRebalanceInProgress}
	}
}

// syncGroup is Kafka's handleSyncGroup/doSyncGroup; cb is called exactly once and must not block.
func (c *Coordinator) syncGroup(req SyncRequest, cb func(SyncResult)) {
	if err := c.validate(req.GroupID, apiSync); err != nil {
		if isLoadInProgress(err) {
			// The rebalance's state was lost with the previous coordinator: start over.
			err = ErrRebalanceInProgress
		}
		cb(SyncResult{Err: err})
		return
	}
	g := c.getGroup(req.GroupID)
	if g == nil {
		cb(SyncResult{Err: ErrUnknownMemberID})
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.is(Dead):
		cb(SyncResult{Err: ErrCoordinatorNotAvailable})
		return
	case g.staticMemberFenced(req.MemberID, req.InstanceID):
		cb(SyncResult{Err: ErrFencedInstanceID})
		return
	case !g.has(req.MemberID):
		cb(SyncResult{Err: ErrUnknownMemberID})
		return
	case req.GenerationID != g.generation:
		cb(SyncResult{Err: ErrIllegalGeneration})
		return
	case req.ProtocolType != nil && (g.protocolType == nil || *g.protocolType != *req.ProtocolType),
		req.ProtocolName != nil && (g.protocol == nil || *g.protocol != *req.ProtocolName):
		cb(SyncResult{Err: ErrInconsistentGroupProtocol})
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case Empty:
		cb(SyncResult{Err: ErrUnknownMemberID})
	case PreparingRebalance:
		cb(SyncResult{Err: ErrRebalanceInProgress})
	case CompletingRebalance:
		g.invokeSync(m, SyncResult{Err: ErrRebalanceInProgress}) // a duplicate sync replaces the parked one
		m.syncWaiter = cb
		g.syncedLocked(m.id)
		if !g.isLeader(m.id) {
			return
		}
		// Members the leader left out get an empty assignment.
		assignment := make(map[string][]byte, len(g.members))
		for id := range g.members {
			a := req.Assignments[id]
			if a == nil {
				a = []byte{}
			}
			assignment[id] = a
		}
		gen := g.generation
		batch := buildBatch(c.nowMs(), []kv{{groupKey(g.id), groupValue(g, assignment)}})
		c.appendLocked(g, batch, func(res replica.ProduceResult) {
			g.mu.Lock()
			defer g.mu.Unlock()
			if !g.is(CompletingRebalance) || g.generation != gen {
				return // another rebalance began while the assignment was being written
			}
			if err := storeError(res.Err); err != nil {
				c.logger(g).WithError(err).Warn("storing the group's assignment failed")
				c.resetAndPropagateAssignmentErrorLocked(g, err)
				c.maybePrepareRebalanceLocked(g, "error storing the assignment")
				return
			}
			for _, mm := range g.members {
				mm.assignment = assignment[mm.id]
			}
			c.propagateAssignmentLocked(g, nil)
			g.transition(Stable, c.nowMs())
		})
	case Stable:
		g.syncedLocked(m.id)
		cb(SyncResult{ProtocolType: g.protocolType, ProtocolName: g.protocol, Assignment: m.assignment})
		c.scheduleHeartbeatLocked(g, m, m.sessionTimeoutMs)
	}
}

// resetAndPropagateAssignmentErrorLocked clears assignments and fails parked syncs with err.
func (c *Coordinator) resetAndPropagateAssignmentErrorLocked(g *Group, err error) {
	for _, m := range g.members {
		m.assignment = []byte{}
	}
	c.propagateAssignmentLocked(g, err)
}

// propagateAssignmentLocked answers every parked sync and restarts its member's session timer:
// an expiry ignored while the member waited would otherwise never be re-armed.
func (c *Coordinator) propagateAssignmentLocked(g *Group, err error) {
	for _, m := range g.membersInOrder() {
		if m.syncWaiter == nil {
			continue
		}
		r := SyncResult{Err: err}
		if err == nil {
			r = SyncResult{ProtocolType: g.protocolType, ProtocolName: g.protocol, Assignment: m.assignment}
		}
		g.invokeSync(m, r)
		c.scheduleHeartbeatLocked(g, m, m.sessionTimeoutMs)
	}
}
