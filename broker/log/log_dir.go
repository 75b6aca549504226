package log

import (
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/sirupsen/logrus"
)

// logDir is one of log.dirs and its health, Kafka's LogDirFailureChannel for one directory: the
// first I/O error of an append, flush, roll or checkpoint in it takes it offline for the life of
// the process (KIP-112). From then on every append and flush of its logs fails with ErrStorage
// at once, and the Manager reports the directory once on DirFailures, so the broker stops
// serving its partitions and tells the controller. A disk that failed is not trusted again: only
// a restart (on a repaired disk) brings the directory back, through recovery.
type logDir struct {
	path    string
	offline atomic.Bool
	// onFail is the Manager's report of the failure, called once, by whoever saw the error
	// (under that log's mutex: it must not block or take a lock above Log.mu). nil for a log
	// opened outside a Manager.
	onFail func(d *logDir, err error)
}

// fail takes the directory offline after err and returns the error the operation answers.
func (d *logDir) fail(err error) error {
	if d.offline.CompareAndSwap(false, true) && d.onFail != nil {
		d.onFail(d, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrStorage, d.path, err)
}

// offlineErr is the answer of any operation on a log whose directory is already offline.
func (d *logDir) offlineErr() error {
	return fmt.Errorf("%w: %s failed earlier", ErrStorage, d.path)
}

// Offline reports whether the log's directory went offline after an I/O error.
func (l *Log) Offline() bool { return l.ld.offline.Load() }

// ParentDir is the log directory (one of log.dirs) that holds this partition's directory.
func (l *Log) ParentDir() string { return l.ld.path }

// appendMark is what an append changes in memory, captured before it starts so that a failed
// append (an I/O error in the write, the roll before it or the flush after it) is undone: the
// log is left as if the append had never been tried — the same segments, log end, producer
// state, leader epochs and unflushed count — so no reader, follower or high watermark ever sees
// the failed batches. The bytes it may have left in the segment file are truncated away (best
// effort: the directory is offline by then, and recovery drops a torn tail anyway).
type appendMark struct {
	nextOffset int64
	unflushed  int64
	segments   int // len(l.segments): a roll adds one
	active     segmentMark
	epochs     []epochEntry // the epoch cache before the append assigned one (nil: untouched)
}

// segmentMark is a segment's in-memory bookkeeping, restored by undo.
type segmentMark struct {
	s                                                    *segment
	size, lastOffset, maxTimestamp, offsetOfMaxTs        int64
	firstBatchTs, sinceIndex                             int64
	indexEntries, indexWritten, timeEntries, timeWritten int
}

func (l *Log) markLocked() appendMark {
	s := l.active()
	return appendMark{nextOffset: l.nextOffset, unflushed: l.unflushed, segments: len(l.segments),
		active: segmentMark{s: s, size: s.size, lastOffset: s.lastOffset, maxTimestamp: s.maxTimestamp,
			offsetOfMaxTs: s.offsetOfMaxTs, firstBatchTs: s.firstBatchTs, sinceIndex: s.sinceIndex,
			indexEntries: len(s.index.entries), timeEntries: len(s.timeIndex.entries)}}
}

// assignEpochLocked records epoch at offset for an append, keeping the cache as it was in mark
// so that a failed append takes the entry back.
func (l *Log) assignEpochLocked(mark *appendMark, epoch int32, offset int64) error {
	if mark.epochs == nil {
		mark.epochs = append([]epochEntry{}, l.epochs.entries...)
	}
	_, err := l.epochs.assign(epoch, offset)
	return err
}

// failAppendLocked undoes a failed append back to mark, takes the directory offline and
// returns the error the append answers.
func (l *Log) failAppendLocked(mark appendMark, err error) error {
	for len(l.segments) > mark.segments { // a segment the roll added, with nothing in it
		s := l.active()
		l.segments = l.segments[:len(l.segments)-1]
		_ = s.log.Close() // no index sync: nothing may be written to a failing directory
	}
	m := mark.active
	s := m.s
	s.size, s.lastOffset, s.maxTimestamp, s.offsetOfMaxTs = m.size, m.lastOffset, m.maxTimestamp, m.offsetOfMaxTs
	s.firstBatchTs, s.sinceIndex = m.firstBatchTs, m.sinceIndex
	s.index.entries = s.index.entries[:m.indexEntries]
	s.index.written = min(s.index.written, m.indexEntries)
	s.timeIndex.entries = s.timeIndex.entries[:m.timeEntries]
	s.timeIndex.written = min(s.timeIndex.written, m.timeEntries)
	if f, ferr := s.file(); ferr == nil {
		if st, serr := f.Stat(); serr != nil || st.Size() != m.size {
			_ = f.Truncate(m.size) // the failed batches' bytes, whole or torn
		}
	}
	l.nextOffset, l.unflushed = mark.nextOffset, mark.unflushed
	if mark.epochs != nil {
		l.epochs.entries = mark.epochs
	}
	return l.ld.fail(err)
}

// closeHandlesLocked closes the log's files without writing anything (Kafka's closeHandlers): its
// directory failed, so no flush, snapshot or index sync is attempted, and the next start
// recovers the log from what reached the disk.
func (l *Log) closeHandlesLocked() {
	if l.closed {
		return
	}
	l.closed = true
	for _, s := range l.segments {
		s.closeFile()
	}
	for _, p := range l.pendingDeletes {
		p.seg.closeFile()
	}
	l.pendingDeletes = nil
}

// logDir returns the Manager's entry for one of log.dirs.
func (m *Manager) logDir(path string) *logDir {
	for _, d := range m.dirs {
		if d.path == path {
			return d
		}
	}
	panic("log: " + path + " is not one of log.dirs") // every caller passes one of opts.Dirs
}

// dirFailed is every logDir's onFail: it logs the failure and reports the directory on
// DirFailures. It runs under the failing log's mutex, so it only logs and sends on a channel
// with room for every directory.
func (m *Manager) dirFailed(d *logDir, err error) {
	m.logger.WithError(err).WithField("dir", d.path).
		Error("I/O error in a log directory: it is offline, and every partition in it stops serving (KAFKA_STORAGE_ERROR)")
	select {
	case m.failures <- d.path:
	default: // cannot happen: each directory fails once and the channel holds them all
	}
}

// DirFailures delivers each log directory once, when an I/O error takes it offline. The broker
// answers with TakeDirOffline (Kafka's LogDirFailureHandler).
func (m *Manager) DirFailures() <-chan string { return m.failures }

// TakeDirOffline drops every log in a directory that went offline, Kafka's
// LogManager.handleLogDirFailure: their files are closed without a flush or any other write,
// their partitions are remembered as offline (GetOrCreateLog refuses them) and the directory is
// left out of checkpoints and the clean-shutdown marker, so the next start recovers it. It
// returns the partitions dropped and how many directories are still online. The replica layer
// must have stopped using these logs first.
func (m *Manager) TakeDirOffline(dir string) (dropped []TopicPartition, online int) {
	d := m.logDir(dir)
	d.offline.Store(true) // an explicit call: the directory may not have failed on its own yet
	var logs []*Log
	m.mu.Lock()
	for tp, in := range m.dirOf {
		if in == dir {
			logs = append(logs, m.logs[tp])
			dropped = append(dropped, tp)
			delete(m.logs, tp)
			delete(m.dirOf, tp)
			m.offlineLogs[tp] = dir
		}
	}
	m.mu.Unlock()
	for _, l := range logs {
		m.cleaner.forget(l.tp)
		l.bg.Wait()
		l.mu.Lock()
		l.closeHandlesLocked()
		l.mu.Unlock()
	}
	for _, d := range m.dirs {
		if !d.offline.Load() {
			online++
		}
	}
	sort.Slice(dropped, func(i, j int) bool { return dropped[i].String() < dropped[j].String() })
	m.logger.WithFields(logrus.Fields{"dir": dir, "partitions": len(dropped), "online_dirs": online}).
		Warn("logs of an offline log directory closed")
	return dropped, online
}

// OfflineDirs lists the log directories that are offline, in log.dirs order.
func (m *Manager) OfflineDirs() []string {
	var out []string
	for _, d := range m.dirs {
		if d.offline.Load() {
			out = append(out, d.path)
		}
	}
	return out
}

// Dirs lists log.dirs in configured order.
func (m *Manager) Dirs() []string { return append([]string(nil), m.opts.Dirs...) }

// forget stops cleaning a log of an offline directory: it waits for a cleaning in progress to
// abort and writes no cleaner checkpoint (the directory takes no more writes).
func (c *logCleaner) forget(tp TopicPartition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for job := c.inProgress[tp]; job != nil; job = c.inProgress[tp] {
		job.abort.Store(true)
		c.cond.Wait()
	}
	delete(c.uncleanable, tp)
}
