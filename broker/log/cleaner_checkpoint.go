package log

import (
	"path/filepath"
)

// cleanerCheckpointFile is Kafka's name for the cleaner's progress in each log dir: the offset
// checkpoint format (version 0, a count, then "<topic> <partition> <offset>" lines) holding, per
// compacted partition, the first offset the cleaner has not cleaned yet — where the next round's
// dirty section starts.
const cleanerCheckpointFile = "cleaner-offset-checkpoint"

// loadCheckpoints reads every log dir's cleaner checkpoint. An unreadable file is not fatal:
// those partitions are cleaned again from their log start, as Kafka does.
func (c *logCleaner) loadCheckpoints(dirs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, dir := range dirs {
		cp, err := readOffsetCheckpoint(c.m.fs, filepath.Join(dir, cleanerCheckpointFile))
		if err != nil {
			c.m.logger.WithError(err).Warn("cleaner checkpoint unreadable; compacted logs are cleaned from their start")
			cp = map[TopicPartition]int64{}
		}
		c.checkpoints[dir] = cp
	}
}

// checkpoint returns tp's first dirty offset in dir, if recorded.
func (c *logCleaner) checkpoint(dir string, tp TopicPartition) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	off, ok := c.checkpoints[dir][tp]
	return off, ok
}

func (c *logCleaner) setCheckpointLocked(dir string, tp TopicPartition, offset int64) {
	if c.checkpoints[dir] == nil {
		c.checkpoints[dir] = map[TopicPartition]int64{}
	}
	if old, ok := c.checkpoints[dir][tp]; ok && old == offset {
		return
	}
	c.checkpoints[dir][tp] = offset
	c.writeCheckpointLocked(dir)
}

// writeCheckpointLocked replaces dir's checkpoint file (atomically) with the partitions that
// still have a log there, as Kafka's updateCheckpoints drops deleted ones.
func (c *logCleaner) writeCheckpointLocked(dir string) {
	cp := c.checkpoints[dir]
	for tp := range cp {
		if c.m.Log(tp) == nil {
			delete(cp, tp)
		}
	}
	if err := writeOffsetCheckpoint(c.m.fs, filepath.Join(dir, cleanerCheckpointFile), cp); err != nil {
		c.m.logger.WithError(err).Error("writing the cleaner checkpoint")
	}
}
