package group

import "bytes"

// Protocol is one (name, metadata) pair a member supports, in the member's order of preference.
// For consumers the name is the assignor (range, roundrobin, sticky, cooperative-sticky) and the
// metadata its subscription; the coordinator never interprets either beyond the consumer
// subscription's topic list (for OffsetDelete and offset expiry).
type Protocol struct {
	Name     string
	Metadata []byte
}

// member is one group member (Kafka's MemberMetadata). Guarded by its group's mu.
type member struct {
	id                 string
	instanceID         *string // static membership (KIP-345); nil for a dynamic member
	clientID           string
	clientHost         string
	rebalanceTimeoutMs int32
	sessionTimeoutMs   int32
	protocolType       string
	protocols          []Protocol
	assignment         []byte

	// joinWaiter is the parked JoinGroup (Kafka's awaitingJoinCallback); syncWaiter the parked
	// SyncGroup. Both are called with the group's mu held and must not block.
	joinWaiter func(JoinResult)
	syncWaiter func(SyncResult)

	isNew              bool // joined in the current rebalance; expires on its own join timeout
	heartbeatSatisfied bool // a heartbeat (or join/sync) arrived since the timer was armed
	hbTimer            Timer
	hbSeq              uint64 // identifies the armed timer; a stale fire sees another value
}

func (m *member) awaitingJoin() bool { return m.joinWaiter != nil }
func (m *member) awaitingSync() bool { return m.syncWaiter != nil }

// hasSatisfiedHeartbeat is Kafka's rule for a session timer that fires: a member waiting in a
// rebalance is alive by definition (its request is parked), except a new member, whose
// heartbeat timer is its join deadline.
func (m *member) hasSatisfiedHeartbeat() bool {
	if m.isNew {
		return m.heartbeatSatisfied
	}
	if m.awaitingJoin() || m.awaitingSync() {
		return true
	}
	return m.heartbeatSatisfied
}

// metadata returns the member's metadata for protocol, nil if it does not support it.
func (m *member) metadata(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether protocols are exactly the member's current ones, in order.
func (m *member) matches(protocols []Protocol) bool {
	if len(protocols) != len(m.protocols) {
		return false
	}
	for i, p := range protocols {
		if p.Name != m.protocols[i].Name || !bytes.Equal(p.Metadata, m.protocols[i].Metadata) {
			return false
		}
	}
	return true
}

// vote is the member's most preferred protocol among candidates.
func (m *member) vote(candidates map[string]bool) string {
	for _, p := range m.protocols {
		if candidates[p.Name] {
			return p.Name
		}
	}
	return ""
}

func (m *member) stopHeartbeat() {
	m.hbSeq++
	if m.hbTimer != nil {
		m.hbTimer.Stop()
		m.hbTimer = nil
	}
}

func strPtr(s string) *string { return &s }

func strEq(a *string, b string) bool { return a != nil && *a == b }
