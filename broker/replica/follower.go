package replica

import (
	"fmt"

	"github.com/sirupsen/logrus"
)

// followerAppend appends what the leader sent, if this broker still follows that leader at the
// epoch the fetch was built with — a LeaderAndIsr that arrived meanwhile wins, and the stale
// response is dropped. Then the high watermark becomes min(leader's, own log end), and the log
// start follows the leader's (DeleteRecords and retention on the leader reach followers so).
func (m *Manager) followerAppend(it *fetchItem, source int32, records []byte, leaderHW, leaderStart int64) error {
	p := it.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.followsLocked(source, it.leaderEpoch) {
		return nil
	}
	l := p.log
	if len(records) > 0 {
		if l.LogEndOffset() != it.offset {
			return fmt.Errorf("log end moved from %d to %d during the fetch", it.offset, l.LogEndOffset())
		}
		if _, err := l.AppendAsFollower(records); err != nil {
			return fmt.Errorf("append as follower at %d: %w", it.offset, err)
		}
		m.stats.replicatedBytes.Add(float64(len(records)))
	}
	leo := l.LogEndOffset()
	if leaderStart > l.LogStartOffset() && leaderStart <= leo {
		if _, err := l.DeleteRecordsBefore(leaderStart); err != nil {
			return fmt.Errorf("follow the leader's log start %d: %w", leaderStart, err)
		}
	}
	if hw := min(leaderHW, leo); hw > l.HighWatermark() {
		l.SetHighWatermark(hw)
	}
	return nil
}

// followerTruncate handles a diverging epoch from the leader (Kafka's
// AbstractFetcherThread.truncateOnFetchResponse and getOffsetTruncationState): the logs agree
// up to the end of the largest epoch both know, so truncate there. If this log's own end for
// that epoch belongs to an older epoch, truncate to that end; the next fetch, with an older
// last epoch, narrows it down further until the logs agree.
func (m *Manager) followerTruncate(it *fetchItem, source, epoch int32, endOffset int64) error {
	p := it.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.followsLocked(source, it.leaderEpoch) {
		return nil
	}
	l := p.log
	leo := l.LogEndOffset()
	to := min(endOffset, leo)
	if endOffset >= 0 {
		if localEpoch, localEnd := l.EndOffsetForEpoch(epoch); localEpoch >= 0 {
			if localEpoch == epoch {
				to = min(endOffset, localEnd)
			} else {
				to = localEnd
			}
		}
	} else {
		to = min(l.HighWatermark(), leo)
	}
	to = min(to, leo)
	if to >= leo {
		// Nothing to remove but epochs this log has beyond its records (see TruncateTo): the
		// next fetch then names the epoch both logs have.
		return l.TruncateTo(leo)
	}
	m.o.Logger.WithFields(logrus.Fields{"topic": p.tp.Topic, "partition": p.tp.Partition,
		"log_end": leo, "truncate_to": to, "leader_epoch": epoch, "leader_end": endOffset}).
		Warn("log diverged from the leader's; truncating")
	if err := l.TruncateTo(to); err != nil {
		return fmt.Errorf("truncate to %d: %w", to, err)
	}
	m.stats.truncations.Inc()
	return nil
}

// followerOutOfRange handles OFFSET_OUT_OF_RANGE from the leader, Kafka's
// fetchOffsetAndTruncate: if the leader's log ends before ours (possible only after an unclean
// election), truncate to its end; if ours ends before the leader's log start (retention or
// DeleteRecords removed what we lack), start over at its log start.
func (m *Manager) followerOutOfRange(f *fetcher, it *fetchItem) error {
	p := it.p
	leaderEnd, err := f.listLeaderOffset(p.tp, it.leaderEpoch, LatestTimestamp)
	if err != nil {
		return fmt.Errorf("out of range; leader's log end: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.followsLocked(f.key.source, it.leaderEpoch) {
		return nil
	}
	l := p.log
	leo := l.LogEndOffset()
	if leaderEnd < leo {
		m.o.Logger.WithFields(logrus.Fields{"topic": p.tp.Topic, "partition": p.tp.Partition, "log_end": leo,
			"leader_end": leaderEnd}).Warn("leader's log ends before ours (unclean election?); truncating")
		return l.TruncateTo(leaderEnd)
	}
	p.mu.Unlock()
	leaderStart, err := f.listLeaderOffset(p.tp, it.leaderEpoch, EarliestTimestamp)
	p.mu.Lock()
	if err != nil {
		return fmt.Errorf("out of range; leader's log start: %w", err)
	}
	if !p.followsLocked(f.key.source, it.leaderEpoch) {
		return nil
	}
	if leo = l.LogEndOffset(); leo < leaderStart {
		m.o.Logger.WithFields(logrus.Fields{"topic": p.tp.Topic, "partition": p.tp.Partition, "log_end": leo,
			"leader_start": leaderStart}).Warn("our log ends before the leader's log start; starting over there")
		return l.TruncateFullyAndStartAt(leaderStart)
	}
	return fmt.Errorf("offset %d out of range on the leader, whose log spans [%d, %d]", leo, leaderStart, leaderEnd)
}
