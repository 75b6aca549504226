package replica

import (
	"fmt"
	"time"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// followerFetchLocked validates a follower's fetch on this leader and records its position,
// Kafka's Partition.readRecords + updateFollowerFetchState. It returns true when r is complete
// (an error, or a diverging epoch the follower must truncate to) and nothing is to be read.
// Callers hold p.mu.
func (m *Manager) followerFetchLocked(p *Partition, replicaID int32, req FetchPartition, r *FetchResult) bool {
	if replicaID == p.me || !contains(p.replicas, replicaID) {
		r.Err = fmt.Errorf("%w: broker %d is not a follower of %s", ErrNotLeaderOrFollower, replicaID, p.tp)
		return true
	}
	l := p.log
	leo := l.LogEndOffset()
	start := l.LogStartOffset()
	if req.LastFetchedEpoch >= 0 {
		epoch, end := l.EndOffsetForEpoch(req.LastFetchedEpoch)
		// An undefined answer (-1) cannot be signalled (Kafka's followers read a diverging
		// epoch < 0 as none): the offset checks below apply instead.
		if epoch >= 0 && (epoch < req.LastFetchedEpoch || end < req.Offset) {
			r.Diverging, r.DivergingEpoch, r.DivergingEndOffset = true, epoch, end
			r.HighWatermark, r.LastStableOffset, r.LogStartOffset = l.HighWatermark(), l.HighWatermark(), start
			return true
		}
	}
	if req.Offset > leo || req.Offset < start {
		r.Err = fmt.Errorf("%w: follower %d fetch offset %d outside [%d, %d] of %s",
			klog.ErrOffsetOutOfRange, replicaID, req.Offset, start, leo, p.tp)
		return true
	}
	m.updateFollowerLocked(p, replicaID, req.Offset, leo)
	return false
}

// updateFollowerLocked records a follower's fetch offset (its log end) and the time it was last
// caught up — Kafka's rule: caught up now if it fetched from the leader's log end, or at its
// previous fetch if it has reached the log end the leader had then — then expands the ISR if it
// qualifies and moves the high watermark.
func (m *Manager) updateFollowerLocked(p *Partition, id int32, offset, leaderLEO int64) {
	now := m.now()
	f := p.followers[id]
	if f == nil {
		f = &followerState{leo: -1, lastFetch: now, lastFetchLeaderLEO: p.epochStartOffset}
		p.followers[id] = f
	}
	switch {
	case offset >= leaderLEO:
		f.lastCaughtUp = now
	case offset >= f.lastFetchLeaderLEO:
		f.lastCaughtUp = f.lastFetch
	}
	f.lastFetchLeaderLEO, f.lastFetch = leaderLEO, now
	f.leo, f.lastFetchedAtLeader = offset, true

	// A follower outside the ISR joins once it has everything committed and everything of this
	// leader's epoch before its fetch offset (Kafka's canAddReplicaToIsr).
	if !contains(p.isr, id) && p.pendingISR == nil &&
		offset >= p.log.HighWatermark() && offset >= p.epochStartOffset {
		m.proposeISRLocked(p, append(append([]int32(nil), p.isr...), id))
	}
	p.maybeAdvanceHWLocked()
}

// becomeLeaderLocked initialises the leader's view of its followers, Kafka's makeLeader: ISR
// members count as caught up now (they must fetch within replica.lag.time.max.ms to stay), the
// others not at all; nobody's log end is known until it fetches.
func (m *Manager) becomeLeaderLocked(p *Partition) {
	now := m.now()
	p.followers = map[int32]*followerState{}
	for _, r := range p.replicas {
		if r == p.me {
			continue
		}
		f := &followerState{leo: -1, lastFetch: now, lastFetchLeaderLEO: p.epochStartOffset}
		if contains(p.isr, r) {
			f.lastCaughtUp = now
		}
		p.followers[r] = f
	}
	p.pendingISR = nil
}

// shrinkISRs proposes, for every partition this broker leads, an ISR without the followers that
// have not caught up within lag (Kafka's isr-expiration task).
func (m *Manager) shrinkISRs(lag time.Duration) {
	now := m.now()
	for _, p := range m.snapshotPartitions() {
		p.mu.Lock()
		if p.isLeaderLocked() && p.pendingISR == nil && p.log != nil {
			var out []int32
			for _, r := range p.isr {
				if r == p.me {
					continue
				}
				f := p.followers[r]
				if f == nil || now.Sub(f.lastCaughtUp) > lag {
					out = append(out, r)
				}
			}
			if len(out) > 0 {
				m.o.Logger.WithFields(map[string]any{"topic": p.tp.Topic, "partition": p.tp.Partition,
					"out_of_sync": out, "lag_max": lag}).Info("shrinking ISR")
				m.proposeISRLocked(p, without(p.isr, out))
			}
		}
		p.mu.Unlock()
	}
}

// proposeISRLocked marks isr as pending and hands it to the AlterIsr sender; the ISR changes
// when the controller has written it.
func (m *Manager) proposeISRLocked(p *Partition, isr []int32) {
	p.pendingISR = isr
	m.alter.submit(alterItem{p: p, tp: p.tp, leaderEpoch: p.leaderEpoch, isr: isr, partitionEpoch: p.partitionEpoch})
}

// AlterISRResult is the controller's answer for one partition of an AlterIsr.
type AlterISRResult struct {
	Err            error // nil, or why the change was refused
	Leader         int32
	LeaderEpoch    int32
	ISR            []int32
	PartitionEpoch int32 // the state znode's new zkVersion
}

// applyAlterISR applies the controller's answer to a proposal, unless leadership or the proposal
// moved on meanwhile. A refusal clears the proposal: the next fetch or expiry check proposes
// again, and a LeaderAndIsr brings the controller's state.
func (m *Manager) applyAlterISR(it alterItem, res AlterISRResult) {
	p := it.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.isLeaderLocked() || p.leaderEpoch != it.leaderEpoch || !sameIDs(p.pendingISR, it.isr) {
		return
	}
	p.pendingISR = nil
	if res.Err != nil {
		m.o.Logger.WithError(res.Err).WithFields(map[string]any{"topic": p.tp.Topic, "partition": p.tp.Partition}).
			Warn("AlterIsr refused")
		return
	}
	if res.LeaderEpoch != p.leaderEpoch {
		return // a LeaderAndIsr with the newer epoch is on its way
	}
	grew := len(res.ISR) > len(p.isr)
	p.isr = append([]int32(nil), res.ISR...)
	p.partitionEpoch = res.PartitionEpoch
	if grew {
		m.stats.isrExpands.Inc()
	} else {
		m.stats.isrShrinks.Inc()
	}
	m.o.Logger.WithFields(map[string]any{"topic": p.tp.Topic, "partition": p.tp.Partition, "isr": p.isr,
		"partition_epoch": p.partitionEpoch}).Info("ISR updated")
	p.maybeAdvanceHWLocked()
	p.wakeHWLocked() // acks=all waiters re-check min.insync.replicas
}

func sameIDs(a, b []int32) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// preferredReadReplicaLocked is Kafka's RackAwareReplicaSelector: the leader if it is in the
// client's rack or no replica is; otherwise the in-sync follower in that rack that has fetched
// furthest, provided it already has the offset the client asks for.
func (m *Manager) preferredReadReplicaLocked(p *Partition, rack string, offset int64) int32 {
	if m.o.RackOf(p.me) == rack {
		return p.me
	}
	best, bestLEO := p.me, int64(-1)
	for _, r := range p.isr {
		if r == p.me || m.o.RackOf(r) != rack {
			continue
		}
		f := p.followers[r]
		if f == nil || !f.lastFetchedAtLeader || f.leo < offset || f.leo <= bestLEO {
			continue
		}
		best, bestLEO = r, f.leo
	}
	return best
}
