package replica

import (
	"sync"
	"sync/atomic"
	"time"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// Partition is one hosted partition.
type Partition struct {
	tp      klog.TopicPartition
	topicID [16]byte
	log     *klog.Log
	me      int32
	// offline: the partition's log was in a log directory that failed (Kafka's
	// HostedPartition.Offline). Set once, by HandleLogDirFailure; every request for the partition
	// answers KAFKA_STORAGE_ERROR from then on, until the broker restarts. Atomic so lookups
	// check it without the partition's lock.
	offline atomic.Bool

	mu             sync.Mutex // guards every field below
	leader         int32
	leaderEpoch    int32
	partitionEpoch int32 // zkVersion of the state znode: AlterIsr's fence
	replicas       []int32
	isr            []int32 // the committed ISR (as the controller last wrote it)
	// pendingISR is the ISR this leader proposed in an AlterIsr still in flight (nil: none).
	// Until the controller answers, the high watermark is computed over isr ∪ pendingISR
	// (Kafka's "maximal ISR"): safe both ways, a shrink waits for the larger set and an expansion
	// already counts the newcomer, which has caught up.
	pendingISR []int32
	minISR     int32
	// epochStartOffset is where this leader's epoch began (its log end when it became leader);
	// a follower joins the ISR only once it has fetched past it.
	epochStartOffset int64
	followers        map[int32]*followerState // on the leader: each other replica's fetch state
	leaderAddr       string                   // on a follower: the leader's inter-broker endpoint
	// hwNotify is closed when the high watermark moves or leadership changes: consumers' long
	// polls and acks=all produces wait on it. leoNotify is closed when the log end moves or
	// leadership changes: followers' fetches wait on it. Both are made by the first waiter
	// (hwChanLocked, leoChanLocked) and dropped when closed, so an append nobody waits for
	// allocates no channel.
	hwNotify  chan struct{}
	leoNotify chan struct{}
	stopped   bool
}

// followerState is what the leader knows of one follower from its fetches (Kafka's Replica).
type followerState struct {
	leo                 int64 // its fetch offset = its log end; -1 until it fetched this epoch
	lastCaughtUp        time.Time
	lastFetch           time.Time
	lastFetchLeaderLEO  int64
	lastFetchedAtLeader bool // fetched at least once in this leader epoch
}

func newPartition(tp klog.TopicPartition, me int32) *Partition {
	return &Partition{tp: tp, me: me, leader: -1, leaderEpoch: -1,
		followers: map[int32]*followerState{}}
}

// wakeLocked releases every waiter (leadership changed); callers hold p.mu.
func (p *Partition) wakeLocked() {
	p.wakeHWLocked()
	p.wakeLEOLocked()
}

func (p *Partition) wakeHWLocked() {
	if p.hwNotify != nil {
		close(p.hwNotify)
		p.hwNotify = nil
	}
}

func (p *Partition) wakeLEOLocked() {
	if p.leoNotify != nil {
		close(p.leoNotify)
		p.leoNotify = nil
	}
}

// hwChanLocked is the channel the next high-watermark move closes.
func (p *Partition) hwChanLocked() chan struct{} {
	if p.hwNotify == nil {
		p.hwNotify = make(chan struct{})
	}
	return p.hwNotify
}

// leoChanLocked is the channel the next log-end move closes.
func (p *Partition) leoChanLocked() chan struct{} {
	if p.leoNotify == nil {
		p.leoNotify = make(chan struct{})
	}
	return p.leoNotify
}

func (p *Partition) isLeaderLocked() bool { return !p.stopped && p.leader == p.me }

// followsLocked reports whether this broker is a follower of leader at epoch.
func (p *Partition) followsLocked(leader, epoch int32) bool {
	return !p.stopped && p.log != nil && p.leader == leader && p.leader != p.me && p.leaderEpoch == epoch
}

// checkEpochLocked validates a client's current leader epoch (-1 = not given).
func (p *Partition) checkEpochLocked(epoch int32) error {
	switch {
	case epoch < 0 || epoch == p.leaderEpoch:
		return nil
	case epoch < p.leaderEpoch:
		return ErrFencedLeaderEpoch
	default:
		return ErrUnknownLeaderEpoch
	}
}

// maximalISRLocked is isr ∪ pendingISR.
func (p *Partition) maximalISRLocked() []int32 {
	if p.pendingISR == nil {
		return p.isr
	}
	out := append([]int32(nil), p.isr...)
	for _, r := range p.pendingISR {
		if !contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// maybeAdvanceHWLocked sets the high watermark to the smallest log end offset among the maximal
// ISR (the leader's own LEO included) and wakes waiters if it moved. A follower that has not
// fetched in this epoch holds it where it is, as Kafka's unknown follower offsets do.
func (p *Partition) maybeAdvanceHWLocked() {
	if !p.isLeaderLocked() {
		return
	}
	cur := p.log.HighWatermark()
	hw := p.log.LogEndOffset()
	for _, r := range p.maximalISRLocked() {
		if r == p.me {
			continue
		}
		f := p.followers[r]
		if f == nil || !f.lastFetchedAtLeader {
			return
		}
		if f.leo < hw {
			hw = f.leo
		}
	}
	if hw > cur {
		p.log.SetHighWatermark(hw)
		p.wakeHWLocked()
	}
}

func contains(xs []int32, x int32) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func without(xs []int32, drop []int32) []int32 {
	out := make([]int32, 0, len(xs))
	for _, x := range xs {
		if !contains(drop, x) {
			out = append(out, x)
		}
	}
	return out
}
