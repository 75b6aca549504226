package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// Log is one partition's replica on disk: an ordered list of segments in `<topic>-<partition>/`.
//
// Concurrency: mu guards every field below it. Appends, truncation, retention and rolls hold mu
// for their whole duration. Reads hold mu only to capture a view (segments, their sizes and index
// entries), then read files without it; a batch becomes visible to readers only once its bytes
// and index entries are in place, because the size they capture is updated last. The high
// watermark is an atomic so the replica layer can read it without taking mu.
type Log struct {
	dir     string
	ld      *logDir // the log.dirs entry holding dir, and its health; set before the log is shared
	tp      TopicPartition
	topicID [16]byte
	fs      vfs.FS
	now     func() time.Time
	logger  logrus.FieldLogger
	hw      atomic.Int64
	cfgPtr  atomic.Pointer[Config]
	bg      sync.WaitGroup // background segment flushes started by roll; Close waits for them

	mu             sync.Mutex
	closed         bool
	segments       []*segment // ascending base offsets; the last is active
	nextOffset     int64      // log end offset
	logStartOffset int64
	recoveryPoint  int64 // everything below is fsynced
	unflushed      int64 // records appended since the last flush
	lastFlush      time.Time
	epochs         *epochCache
	producers      *producerTracker
	pendingDeletes []pendingDelete
	// cleanerTruncatedTo is the lowest offset the log was truncated to since the cleaner last
	// looked (-1: none), so it can lower its checkpoint (Kafka's maybeTruncateCheckpoint).
	cleanerTruncatedTo int64
}

// cleanRecoveryPoint tells openLog the log was shut down cleanly: trust every segment (after
// checking its indexes) instead of scanning the active one.
const cleanRecoveryPoint = 1 << 62

type pendingDelete struct {
	seg *segment
	at  time.Time
}

// openLog loads a partition directory, recovering segments at or past recoveryPoint (all of them
// after an unclean shutdown, which the caller signals with recoveryPoint 0). Segments below the
// recovery point are trusted after a check of their indexes, as Kafka trusts them; if the
// producer-state replay then finds a corrupt batch in one of them, the whole log is opened again
// with full recovery rather than failing the broker's startup.
func openLog(fs vfs.FS, dir string, tp TopicPartition, topicID [16]byte, cfg Config,
	recoveryPoint, logStartOffset int64, now func() time.Time, logger logrus.FieldLogger) (*Log, error) {
	l, err := openLogAt(fs, dir, tp, topicID, cfg, recoveryPoint, logStartOffset, now, logger)
	if err != nil && recoveryPoint > 0 {
		logger.WithError(err).WithFields(logrus.Fields{"topic": tp.Topic, "partition": tp.Partition}).
			Warn("log does not load as checkpointed; recovering every segment")
		return openLogAt(fs, dir, tp, topicID, cfg, 0, logStartOffset, now, logger)
	}
	return l, err
}

func openLogAt(fs vfs.FS, dir string, tp TopicPartition, topicID [16]byte, cfg Config,
	recoveryPoint, logStartOffset int64, now func() time.Time, logger logrus.FieldLogger) (*Log, error) {
	cfg = cfg.sanitize()
	l := &Log{dir: dir, ld: &logDir{path: filepath.Dir(dir)}, tp: tp, topicID: topicID, fs: fs, now: now,
		recoveryPoint: recoveryPoint, cleanerTruncatedTo: -1,
		logger: logger.WithFields(logrus.Fields{"topic": tp.Topic, "partition": tp.Partition})}
	l.cfgPtr.Store(&cfg)
	if err := mkdirDurable(fs, dir); err != nil {
		return nil, fmt.Errorf("create log dir %s: %w", dir, err)
	}
	entries, err := fs.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	if entries, err = l.recoverSwaps(entries, cfg); err != nil {
		return nil, err
	}
	var bases []int64
	for _, e := range entries {
		if base, ok := parseSegmentName(e.Name(), logSuffix); ok {
			bases = append(bases, base)
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	var recovered []epochEntry // epoch starts in the batches of the segments recovered
	if err := l.loadSegments(bases, cfg, logStartOffset, &recovered); err != nil {
		for _, s := range l.segments {
			s.close()
		}
		return nil, err
	}
	if l.epochs, err = loadEpochCache(fs, dir); err != nil {
		l.logger.WithError(err).Warn("leader epoch checkpoint unreadable; starting empty")
		l.epochs = &epochCache{fs: fs, path: filepath.Join(dir, leaderEpochFile)}
	}
	closeAll := func() {
		for _, s := range l.segments {
			s.close()
		}
	}
	if err := l.epochs.truncateFrom(l.nextOffset); err != nil {
		closeAll()
		return nil, err
	}
	// Epoch entries are written before the recovery point passes their start (see
	// epochCache.assign), so only the recovered segments can hold epochs the checkpoint lacks.
	for _, e := range recovered {
		if e.Epoch > l.epochs.latest() {
			_, _ = l.epochs.assign(e.Epoch, e.StartOffset)
		}
	}
	if err := l.epochs.flushIfDirty(); err != nil {
		closeAll()
		return nil, err
	}
	l.producers = newProducerTracker(fs, dir)
	if err := l.rebuildProducerState(); err != nil {
		closeAll()
		return nil, err
	}
	l.lastFlush = now()
	return l, nil
}

// loadSegments opens every segment, trusting the indexes of those wholly below the recovery point
// (after checking them) and validating everything else batch by batch. A torn or corrupt batch
// truncates its segment there and removes every later segment, as Kafka's recovery does.
func (l *Log) loadSegments(bases []int64, cfg Config, logStartOffset int64, epochs *[]epochEntry) error {
	expectNext := int64(-1)
	for i, base := range bases {
		s, err := openSegment(l.fs, l.dir, base, cfg)
		if err != nil {
			return err
		}
		l.segments = append(l.segments, s)
		below := (i+1 < len(bases) && bases[i+1] <= l.recoveryPoint) || l.recoveryPoint >= cleanRecoveryPoint
		if below {
			if err := s.loadIndexes(); err != nil {
				l.logger.WithError(err).WithField("segment", base).Warn("index inconsistent with its log; rebuilding")
				below = false
			}
		}
		if !below {
			if expectNext < base {
				expectNext = base
			}
			truncated, err := s.recover(expectNext, epochs)
			if err != nil {
				return fmt.Errorf("recover segment %d: %w", base, err)
			}
			if truncated > 0 {
				l.logger.WithFields(logrus.Fields{"segment": base, "bytes": truncated}).
					Warn("truncated a torn or corrupt tail during recovery")
				for _, later := range bases[i+1:] {
					ls := &segment{fs: l.fs, dir: l.dir, base: later}
					for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
						_ = l.fs.Remove(ls.path(suf))
					}
				}
				break
			}
		}
		expectNext = s.lastOffset + 1
		if below && i+1 < len(bases) {
			// Trusted and not active: nothing reads it yet, so it stays closed until something
			// does (segment.file). A broker's descriptors follow its active segments.
			s.closeIfIdle()
		}
	}
	// Drop empty segments that are not the last (left by a crash between roll and first append).
	for len(l.segments) > 1 && l.segments[len(l.segments)-1].size == 0 &&
		l.segments[len(l.segments)-2].lastOffset+1 != l.segments[len(l.segments)-1].base {
		last := l.segments[len(l.segments)-1]
		last.close()
		l.segments = l.segments[:len(l.segments)-1]
		for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			_ = l.fs.Remove(last.path(suf))
		}
	}
	if len(l.segments) == 0 {
		start := logStartOffset
		if start < 0 {
			start = 0
		}
		s, err := openSegment(l.fs, l.dir, start, cfg)
		if err != nil {
			return err
		}
		l.segments = append(l.segments, s)
	}
	active := l.segments[len(l.segments)-1]
	// Dropping empty segments can leave a closed one active: appends need its file, and an open
	// that fails here fails the start, not a later append (which would take the dir offline).
	if _, err := active.file(); err != nil {
		return err
	}
	l.nextOffset = active.lastOffset + 1
	l.logStartOffset = l.segments[0].base
	if logStartOffset > l.logStartOffset && logStartOffset <= l.nextOffset {
		l.logStartOffset = logStartOffset
	}
	if l.recoveryPoint > l.nextOffset {
		l.recoveryPoint = l.nextOffset
	}
	return nil
}

func (l *Log) cfg() Config { return *l.cfgPtr.Load() }

// SetConfig applies new topic settings; they take effect from the next append or retention pass.
func (l *Log) SetConfig(cfg Config) {
	cfg = cfg.sanitize()
	l.cfgPtr.Store(&cfg)
}

// Config returns the log's current settings.
func (l *Log) Config() Config { return l.cfg() }

func (l *Log) TopicPartition() TopicPartition { return l.tp }

// TopicID is the topic id the log was created or last confirmed with.
func (l *Log) TopicID() [16]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.topicID
}

func (l *Log) setTopicID(id [16]byte) {
	l.mu.Lock()
	l.topicID = id
	l.mu.Unlock()
}
func (l *Log) Dir() string { return l.dir }

// HighWatermark is maintained by the replica layer; the log only stores and checkpoints it.
func (l *Log) HighWatermark() int64 { return l.hw.Load() }

// SetHighWatermark clamps hw to the log's bounds.
func (l *Log) SetHighWatermark(hw int64) {
	l.mu.Lock()
	if hw > l.nextOffset {
		hw = l.nextOffset
	}
	if hw < l.logStartOffset {
		hw = l.logStartOffset
	}
	l.mu.Unlock()
	l.hw.Store(hw)
}

func (l *Log) LogEndOffset() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nextOffset
}

func (l *Log) LogStartOffset() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.logStartOffset
}

func (l *Log) recoveryPointOffset() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.recoveryPoint
}

// Size is the total bytes of the log's segments.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, s := range l.segments {
		n += s.size
	}
	return n
}

// NumSegments is the number of live segments.
func (l *Log) NumSegments() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.segments)
}

// LatestEpoch is the newest leader epoch in the epoch cache, -1 if none.
func (l *Log) LatestEpoch() int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epochs.latest()
}

// AssignEpochStartOffset records that leader epoch starts at offset (a new leader does this with
// its log end offset). The entry reaches leader-epoch-checkpoint with the log's next flush, roll
// or close, before the recovery point passes it (epochCache.assign says why that is enough), so
// a LeaderAndIsr making thousands of partitions leaders writes no file.
func (l *Log) AssignEpochStartOffset(epoch int32, offset int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ld.offline.Load() {
		return l.ld.offlineErr()
	}
	if _, err := l.epochs.assign(epoch, offset); err != nil {
		return l.ld.fail(err)
	}
	return nil
}

// EndOffsetForEpoch answers OffsetsForLeaderEpoch: the largest epoch <= epoch and its end offset.
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epochs.endOffsetFor(epoch, l.nextOffset)
}

// Flush fsyncs everything appended so far and advances the recovery point. An I/O error takes
// the log's directory offline (ErrStorage).
func (l *Log) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.flushLocked()
	if err == nil || errors.Is(err, ErrLogClosed) || errors.Is(err, ErrStorage) {
		return err
	}
	return l.ld.fail(err)
}

// flushLocked fsyncs what is not yet durable. Its I/O errors are returned as they are; the
// callers take the directory offline.
func (l *Log) flushLocked() error {
	if l.closed {
		return ErrLogClosed
	}
	if l.ld.offline.Load() {
		return l.ld.offlineErr()
	}
	for _, s := range l.segments {
		if s.lastOffset >= l.recoveryPoint || s == l.segments[len(l.segments)-1] {
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
	if err := l.epochs.flushIfDirty(); err != nil {
		return err
	}
	l.recoveryPoint = l.nextOffset
	l.unflushed = 0
	l.lastFlush = l.now()
	return nil
}

// closeIdleFiles closes the files of cold segments that nothing opened since the last call (the
// Manager's sweep), so a broker's open files follow its active segments and what is being
// read, not every segment on disk. It returns how many it closed.
func (l *Log) closeIdleFiles() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0
	}
	n := 0
	for _, s := range l.segments[:len(l.segments)-1] {
		if s.lastOffset < l.recoveryPoint && s.closeIfIdle() {
			n++
		}
	}
	return n
}

// maybeFlushByTime flushes if flush.ms has passed since the last flush (the manager's loop).
func (l *Log) maybeFlushByTime(now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ms := l.cfg().FlushIntervalMs
	if l.closed || l.ld.offline.Load() || l.unflushed == 0 || now.Sub(l.lastFlush) < time.Duration(ms)*time.Millisecond {
		return nil
	}
	if err := l.flushLocked(); err != nil {
		return l.ld.fail(err)
	}
	return nil
}

// Close flushes, writes a producer-state snapshot at the log end and closes every file. A log
// whose directory is offline only closes its files: nothing is written to a failed disk, and
// the next start recovers the log.
func (l *Log) Close() error {
	l.bg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	if l.ld.offline.Load() {
		l.closeHandlesLocked()
		return nil
	}
	err := l.flushLocked()
	if e := l.producers.snapshot(l.nextOffset); err == nil {
		err = e
	}
	if err != nil {
		err = l.ld.fail(err)
	}
	l.closed = true
	for _, s := range l.segments {
		if e := s.close(); err == nil {
			err = e
		}
	}
	for _, p := range l.pendingDeletes {
		_ = p.seg.removeDeleted()
	}
	l.pendingDeletes = nil
	return err
}

// closeForDelete closes files without flushing; the directory is about to be removed.
func (l *Log) closeForDelete() {
	l.bg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	for _, s := range l.segments {
		s.close()
	}
	for _, p := range l.pendingDeletes {
		p.seg.close()
	}
}

func (l *Log) active() *segment { return l.segments[len(l.segments)-1] }

// roll starts a new active segment at the log end. The old one is fsynced in the background, as
// Kafka schedules it, and the recovery point moves past it once that completes.
func (l *Log) roll(cfg Config) error {
	old := l.active()
	if err := old.sealTimeIndex(); err != nil {
		return err
	}
	if err := old.syncIndexes(); err != nil {
		return err
	}
	base := l.nextOffset
	if old.base == base && old.size == 0 {
		return nil
	}
	s, err := openSegment(l.fs, l.dir, base, cfg)
	if err != nil {
		return err
	}
	if s.size != 0 { // a stale file at this base (from before a truncation) holds nothing we want
		if err := s.log.Truncate(0); err != nil {
			return fmt.Errorf("reset stale segment %d: %w", base, err)
		}
		s.size = 0
		_ = s.index.reset()
		_ = s.timeIndex.reset()
	}
	l.segments = append(l.segments, s)
	if err := l.producers.snapshot(base); err != nil {
		return err
	}
	// The background fsync holds a reference on the old file, so no idle sweep closes it (and
	// touches old.log) meanwhile, even if a flush moves the recovery point past it first.
	oldFile, err := old.acquireFile()
	if err != nil {
		return err
	}
	l.bg.Add(1)
	go func() { // owned by l: Close waits on l.bg
		defer l.bg.Done()
		defer oldFile.release()
		if err := old.fsync(oldFile); err != nil {
			l.logger.WithError(err).Error("flushing a rolled segment failed")
			_ = l.ld.fail(err)
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if base > l.recoveryPoint && !l.closed {
			if err := l.epochs.flushIfDirty(); err != nil {
				l.logger.WithError(err).Error("writing the leader epoch checkpoint failed")
				_ = l.ld.fail(err)
				return
			}
			l.recoveryPoint = base
		}
	}()
	return nil
}

// shouldRoll reports whether appending size bytes ending at lastOffset needs a new segment. Like
// Kafka, segment.ms is measured from the first batch's timestamp to the incoming batches' largest
// timestamp, not against the wall clock, so producers' clocks drive time-based rolling.
func shouldRoll(s *segment, cfg Config, size int64, lastOffset int64, maxTs int64) bool {
	if s.size == 0 {
		return false
	}
	switch {
	case s.size+size > cfg.SegmentBytes:
		return true
	case s.firstBatchTs >= 0 && maxTs-s.firstBatchTs > cfg.maxSegmentMs():
		return true
	case s.index.full() || s.timeIndex.full():
		return true
	case lastOffset-s.base > 1<<31-1:
		return true
	}
	return false
}

// mkdirDurable creates dir (and missing parents) and fsyncs the parent of every directory it
// created, so the new entries survive a crash: a partition whose first batches were fsynced
// must not lose its directory.
func mkdirDurable(fs vfs.FS, dir string) error {
	var missing []string
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		if _, err := fs.Stat(p); err == nil || p == filepath.Dir(p) {
			break
		}
		missing = append(missing, p)
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- { // outermost first
		if err := fs.SyncDir(filepath.Dir(missing[i])); err != nil {
			return fmt.Errorf("fsync the parent of %s: %w", missing[i], err)
		}
	}
	return nil
}

// removeFiles deletes a log directory's files; used by the manager's async delete.
func removeDir(fs vfs.FS, dir string) error {
	if err := fs.RemoveAll(dir); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}
