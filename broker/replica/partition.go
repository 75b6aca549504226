package replica

import (
	"sync"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// Partition is one hosted partition.
type Partition struct {
	tp      klog.TopicPartition
	topicID [16]byte
	log     *klog.Log
	me      int32

	mu             sync.Mutex // guards every field below
	leader         int32
	leaderEpoch    int32
	partitionEpoch int32
	replicas       []int32
	isr            []int32
	minISR         int32
	followerLEO    map[int32]int64 // on the leader: each follower's last fetch offset
	notify         chan struct{}   // closed and replaced when waiters must re-check
	stopped        bool
}

func newPartition(tp klog.TopicPartition, me int32) *Partition {
	return &Partition{tp: tp, me: me, leader: -1, leaderEpoch: -1, notify: make(chan struct{}), followerLEO: map[int32]int64{}}
}

// wakeLocked releases every waiter; callers hold p.mu.
func (p *Partition) wakeLocked() {
	close(p.notify)
	p.notify = make(chan struct{})
}

func (p *Partition) isLeaderLocked() bool { return !p.stopped && p.leader == p.me }

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

// maybeAdvanceHWLocked sets the high watermark to the smallest log end offset among the ISR
// (the leader's own LEO included) and wakes waiters if it moved. Followers that have not fetched
// yet hold it back, as Kafka's do.
func (p *Partition) maybeAdvanceHWLocked() {
	if !p.isLeaderLocked() {
		return
	}
	hw := p.log.LogEndOffset()
	for _, r := range p.isr {
		if r == p.me {
			continue
		}
		leo, ok := p.followerLEO[r]
		if !ok {
			leo = p.log.HighWatermark()
		}
		if leo < hw {
			hw = leo
		}
	}
	if hw > p.log.HighWatermark() {
		p.log.SetHighWatermark(hw)
		p.wakeLocked()
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
