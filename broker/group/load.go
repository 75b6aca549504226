package group

import (
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
)

// OnElection is called when this broker became leader of __consumer_offsets partition p with
// leaderEpoch (broker/api's LeaderAndIsr handler, after the replica manager applied it, as
// Kafka's onLeadershipChange). The partition's groups are loaded by the loader goroutine;
// meanwhile their requests answer COORDINATOR_LOAD_IN_PROGRESS. Never blocks.
func (c *Coordinator) OnElection(p, leaderEpoch int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active {
		return
	}
	if cur, ok := c.epochs[p]; ok && leaderEpoch < cur {
		c.log.WithFields(logrus.Fields{"partition": p, "epoch": leaderEpoch, "current": cur}).Info("ignoring election with an older epoch")
		return
	}
	c.epochs[p] = leaderEpoch
	if st := c.partitions[p]; st != nil {
		st.epoch = leaderEpoch // still leader under a newer epoch: nothing to reload
		return
	}
	c.partitions[p] = &partitionStatus{loading: true, epoch: leaderEpoch}
	c.loadQueue = append(c.loadQueue, loadTask{partition: p, epoch: leaderEpoch})
	select {
	case c.loadWake <- struct{}{}:
	default:
	}
}

// OnResignation is called when this broker stopped leading partition p (became follower, or
// StopReplica). Its groups are dropped: parked requests answer NOT_COORDINATOR and clients find
// the new coordinator. leaderEpoch < 0 means unknown; an epoch older than the newest election
// seen is ignored (a late resignation must not undo a newer election).
func (c *Coordinator) OnResignation(p, leaderEpoch int32) {
	c.mu.Lock()
	if leaderEpoch >= 0 {
		if cur, ok := c.epochs[p]; ok && leaderEpoch < cur {
			c.mu.Unlock()
			return
		}
		c.epochs[p] = leaderEpoch
	}
	_, had := c.partitions[p]
	delete(c.partitions, p)
	var gone []*Group
	for id, g := range c.groups {
		if g.partition == p {
			gone = append(gone, g)
			delete(c.groups, id)
		}
	}
	c.mu.Unlock()
	for _, g := range gone {
		g.mu.Lock()
		c.unloadLocked(g)
		g.mu.Unlock()
	}
	if had {
		c.log.WithFields(logrus.Fields{"partition": p, "groups": len(gone)}).Info("unloaded groups of a resigned partition")
	}
}

// loadLoop is the loader goroutine: it loads elected partitions one at a time, in election
// order, until Shutdown.
func (c *Coordinator) loadLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.loadWake:
		}
		for {
			c.mu.Lock()
			if len(c.loadQueue) == 0 {
				c.mu.Unlock()
				break
			}
			t := c.loadQueue[0]
			c.loadQueue = c.loadQueue[1:]
			st := c.partitions[t.partition]
			todo := st != nil && st.loading
			c.mu.Unlock()
			if todo {
				c.loadPartition(t.partition, st)
			}
			if c.ctx.Err() != nil {
				return
			}
		}
	}
}

// loadPartition reads a partition's log and installs its groups for the election whose status
// is st, unless the partition was resigned meanwhile. A resignation followed by a new election
// during the read replaces st: what was read may predate the partition's changes as a follower
// in between (truncation, appends), so it is dropped and the new election's own load, queued
// behind this one, reads the log again.
func (c *Coordinator) loadPartition(p int32, st *partitionStatus) {
	start := time.Now()
	log := c.log.WithField("partition", fmt.Sprintf("%s-%d", OffsetsTopic, p))
	groups, stats, err := c.readPartition(p)
	if err != nil {
		// As Kafka: the partition becomes owned with what could be read; the error is loud.
		log.WithError(err).Error("loading groups and offsets failed part way")
	}
	c.mu.Lock()
	if c.partitions[p] != st || !st.loading {
		c.mu.Unlock()
		log.Info("partition resigned while loading; discarding what was read")
		return
	}
	for _, g := range groups {
		c.groups[g.id] = g
	}
	st.loading = false
	c.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		if g.is(Stable) && len(g.members) > int(c.o.Config.MaxSize) {
			c.prepareRebalanceLocked(g, "group is over group.max.size after loading")
		}
		for _, m := range g.membersInOrder() {
			c.scheduleHeartbeatLocked(g, m, m.sessionTimeoutMs)
		}
		g.mu.Unlock()
	}
	log.WithFields(logrus.Fields{"groups": len(groups), "offsets": stats.offsets, "records": stats.records,
		"took": time.Since(start).Round(time.Millisecond)}).Info("loaded groups and offsets")
}

type loadStats struct{ records, offsets int }

// readPartition replays a __consumer_offsets partition from its log start to its log end: the
// last record of a key wins, a tombstone removes it (Kafka's doLoadGroupsAndOffsets). It reads
// offsets.load.buffer.size at a time, whole batches, decompressing as needed. Compaction leaves
// gaps in the offsets; each read starts at the batch holding the next offset or after it.
func (c *Coordinator) readPartition(p int32) ([]*Group, loadStats, error) {
	var stats loadStats
	tp := klog.TopicPartition{Topic: OffsetsTopic, Partition: p}
	l := c.o.Logs.Log(tp)
	if l == nil {
		return nil, stats, nil
	}
	offsets := map[string]map[klog.TopicPartition]committed{}
	metas := map[string]*kmsg.GroupMetadataValue{}
	log := c.log.WithField("partition", tp.String())
	end := l.LogEndOffset()
	var firstErr error
	for off := l.LogStartOffset(); off < end && c.ctx.Err() == nil; {
		data, err := c.readLog(l, off)
		if err != nil {
			return nil, stats, fmt.Errorf("read %s at %d: %w", tp, off, err)
		}
		if len(data) == 0 {
			break
		}
		next := off
		for pos := 0; pos < len(data); {
			h, err := klog.ParseBatchHeader(data[pos:])
			if err != nil || pos+h.Size() > len(data) {
				return nil, stats, fmt.Errorf("batch at %d of %s: %v", next, tp, err)
			}
			batch := data[pos : pos+h.Size()]
			pos += h.Size()
			next = h.LastOffset() + 1
			if h.IsControl() || h.IsTransactional() {
				// Gregor writes neither; transactional offset commits need a transaction
				// coordinator to decide them.
				continue
			}
			_, recs, err := klog.DecodeRecords(batch)
			if err != nil {
				log.WithError(err).WithField("offset", h.BaseOffset).Error("skipping an undecodable batch")
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			for _, r := range recs {
				stats.records++
				rec, err := DecodeRecord(r.Key, r.Value)
				if err != nil {
					log.WithError(err).WithField("offset", r.Offset).Warn("skipping an undecodable record")
					continue
				}
				switch {
				case rec.OffsetKey != nil:
					k := rec.OffsetKey
					ptp := klog.TopicPartition{Topic: k.Topic, Partition: k.Partition}
					if rec.Offset == nil {
						delete(offsets[k.Group], ptp)
						continue
					}
					if offsets[k.Group] == nil {
						offsets[k.Group] = map[klog.TopicPartition]committed{}
					}
					v := rec.Offset
					offsets[k.Group][ptp] = committed{logOffset: r.Offset, Offset: Offset{Offset: v.Offset,
						LeaderEpoch: v.LeaderEpoch, Metadata: v.Metadata, CommitTimestamp: v.CommitTimestamp,
						ExpireTimestamp: v.ExpireTimestamp}}
				case rec.GroupKey != nil:
					if rec.Group == nil {
						delete(metas, rec.GroupKey.Group)
						continue
					}
					metas[rec.GroupKey.Group] = rec.Group
				}
			}
		}
		if next <= off {
			break // no progress: a log that ends in a partial batch
		}
		off = next
	}
	now := c.nowMs()
	var out []*Group
	for id, v := range metas {
		g := groupFromRecord(id, p, v)
		if offs := offsets[id]; offs != nil {
			g.offsets = offs
		}
		stats.offsets += len(g.offsets)
		out = append(out, g)
	}
	for id, offs := range offsets {
		if _, ok := metas[id]; ok || len(offs) == 0 {
			continue
		}
		// Offsets without group metadata: a group that only stores offsets.
		g := newGroup(id, p, Empty, now)
		g.offsets = offs
		stats.offsets += len(offs)
		out = append(out, g)
	}
	return out, stats, firstErr
}

// loadReadAttempts bounds how often readLog tries one read.
const loadReadAttempts = 3

// readLog reads whole batches from off to the log end (not the high watermark: a new leader
// may not have advanced it over records every ISR member has, acknowledged commits among them,
// and it never truncates them). A failed read is tried again with a fresh view of the log: the
// cleaner may have swapped out the segment being read and, with a file.delete.delay.ms shorter
// than the read took, removed its file; the segment that replaced it holds the same offsets.
// Failing the load instead would own the partition with none of its groups.
func (c *Coordinator) readLog(l *klog.Log, off int64) ([]byte, error) {
	var err error
	for attempt := 1; ; attempt++ {
		var data []byte
		data, err = l.Read(off, c.o.Config.LoadBufferSize, -1, true)
		if err == nil || errors.Is(err, klog.ErrLogClosed) || attempt == loadReadAttempts || c.ctx.Err() != nil {
			return data, err
		}
		c.log.WithError(err).WithFields(logrus.Fields{"partition": l.TopicPartition().String(), "offset": off}).
			Warn("reading __consumer_offsets failed; reading again")
	}
}

// groupFromRecord rebuilds a group from its metadata record (Kafka's GroupMetadata.loadGroup):
// Stable with its members and their assignments, or Empty.
func groupFromRecord(id string, p int32, v *kmsg.GroupMetadataValue) *Group {
	state := Stable
	if len(v.Members) == 0 {
		state = Empty
	}
	ts := int64(-1)
	if v.Version >= 2 {
		ts = v.CurrentStateTimestamp
	}
	g := newGroup(id, p, state, ts)
	for _, mv := range v.Members {
		m := &member{id: mv.MemberID, instanceID: mv.InstanceID, clientID: mv.ClientID, clientHost: mv.ClientHost,
			rebalanceTimeoutMs: mv.RebalanceTimeoutMillis, sessionTimeoutMs: mv.SessionTimeoutMillis,
			protocolType: v.ProtocolType, assignment: mv.Assignment}
		if v.Version == 0 {
			m.rebalanceTimeoutMs = mv.SessionTimeoutMillis
		}
		if v.Protocol != nil {
			m.protocols = []Protocol{{Name: *v.Protocol, Metadata: mv.Subscription}}
		}
		g.add(m)
	}
	g.generation = v.Generation
	g.protocolType = nil
	if v.ProtocolType != "" {
		g.protocolType = strPtr(v.ProtocolType)
	}
	g.protocol = v.Protocol
	g.leader = ""
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	g.computeSubscribed()
	return g
}
