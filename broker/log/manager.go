package log

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	Dirs    []string
	Default Config
	// Intervals of the background loops (zero: Kafka's defaults — retention 5 min, flush check
	// 1 s, checkpoints 60 s).
	RetentionCheckInterval time.Duration
	FlushCheckInterval     time.Duration
	CheckpointInterval     time.Duration
	FS                     vfs.FS           // nil: the OS
	Now                    func() time.Time // nil: time.Now
	Logger                 logrus.FieldLogger
	// Cleaner configures log compaction; its goroutines run only with Cleaner.Enable (the zero
	// value runs none, but cleanOnce still works, with Kafka's default buffer sizes).
	Cleaner CleanerConfig
	// DeleteCheckInterval is how often `.deleted` files past file.delete.delay.ms are removed
	// (zero: 1 s).
	DeleteCheckInterval time.Duration
	// IdleFileCheckInterval is how often the files of cold segments (not active, below the
	// recovery point) that nothing read since the last check are closed (zero: 1 min).
	IdleFileCheckInterval time.Duration
}

// Manager owns every partition log under the broker's log.dirs, their checkpoint files and the
// background loops (retention, time-based flush, checkpointing, delayed file deletion, and the
// log cleaner's goroutines).
//
// A directory whose disk fails (an I/O error on append, flush, roll or checkpoint) goes offline
// for good (see logDir): it is reported once on DirFailures, and TakeDirOffline then drops its
// logs — closed without a write, their partitions refused from then on — and leaves it out of
// checkpoints, the clean-shutdown marker and the placement of new logs.
//
// Concurrency: mu guards logs, dirOf and offlineLogs. A Log has its own lock; Manager never holds
// mu while calling into a Log that may block on I/O, except in Close. Lock order: logCleaner.mu →
// Manager.mu → Log.mu. The loop and cleaner goroutines are started by Start and stopped by Close
// (stop channel + wg).
type Manager struct {
	opts   ManagerOptions
	fs     vfs.FS
	now    func() time.Time
	logger logrus.FieldLogger

	dirs     []*logDir   // log.dirs in configured order, each with its health
	failures chan string // each log dir's path once, when it goes offline (buffered: never blocks)

	mu       sync.Mutex
	logs     map[TopicPartition]*Log
	dirOf    map[TopicPartition]string        // which log.dir holds the partition
	creating map[TopicPartition]chan struct{} // logs being created (closed when done)
	pending  map[string]int                   // logs being created, per dir (they count as there)
	closed   bool
	// offlineLogs are the partitions whose logs were in a directory taken offline: they are never
	// created again elsewhere, which would serve an empty log in place of the one on the failed
	// disk (Kafka refuses the same with KafkaStorageException).
	offlineLogs map[TopicPartition]string

	stop    chan struct{}
	wg      sync.WaitGroup
	started bool

	cleaner *logCleaner
}

// partitionDir matches `<topic>-<partition>`.
var partitionDir = regexp.MustCompile(`^(.+)-(\d+)$`)

// OpenManager loads every partition in every log dir, recovering logs that were not shut down
// cleanly, and removes directories left by an interrupted topic deletion.
func OpenManager(opts ManagerOptions) (*Manager, error) {
	if len(opts.Dirs) == 0 {
		return nil, fmt.Errorf("log manager: no log.dirs")
	}
	m := &Manager{opts: opts, fs: opts.FS, now: opts.Now, logger: opts.Logger,
		logs: map[TopicPartition]*Log{}, dirOf: map[TopicPartition]string{}, creating: map[TopicPartition]chan struct{}{},
		pending: map[string]int{}, stop: make(chan struct{}), failures: make(chan string, len(opts.Dirs)), offlineLogs: map[TopicPartition]string{}}
	for _, dir := range opts.Dirs {
		m.dirs = append(m.dirs, &logDir{path: dir, onFail: m.dirFailed})
	}
	if m.fs == nil {
		m.fs = vfs.OS
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.logger == nil {
		l := logrus.New()
		l.SetLevel(logrus.WarnLevel)
		m.logger = l
	}
	for _, dir := range opts.Dirs {
		if err := m.loadDir(dir); err != nil {
			m.closeLogs()
			return nil, err
		}
	}
	m.cleaner = newLogCleaner(m, opts.Cleaner)
	m.cleaner.loadCheckpoints(opts.Dirs)
	return m, nil
}

func (m *Manager) loadDir(dir string) error {
	if err := mkdirDurable(m.fs, dir); err != nil {
		return fmt.Errorf("create log dir %s: %w", dir, err)
	}
	clean := true
	if _, err := m.fs.Stat(filepath.Join(dir, cleanShutdownFile)); err != nil {
		clean = false
	}
	recovery, err := readOffsetCheckpoint(m.fs, filepath.Join(dir, recoveryPointFile))
	if err != nil {
		m.logger.WithError(err).Warn("recovery point checkpoint unreadable; recovering every segment")
		recovery = map[TopicPartition]int64{}
	}
	starts, err := readOffsetCheckpoint(m.fs, filepath.Join(dir, logStartOffsetFile))
	if err != nil {
		starts = map[TopicPartition]int64{}
	}
	hws, err := readOffsetCheckpoint(m.fs, filepath.Join(dir, replicationFile))
	if err != nil {
		hws = map[TopicPartition]int64{}
	}
	entries, err := m.fs.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list log dir %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		if strings.HasSuffix(name, "-delete") {
			_ = removeDir(m.fs, filepath.Join(dir, name))
			continue
		}
		mm := partitionDir.FindStringSubmatch(name)
		if mm == nil {
			continue
		}
		p, err := strconv.ParseInt(mm[2], 10, 32)
		if err != nil {
			continue
		}
		tp := TopicPartition{Topic: mm[1], Partition: int32(p)}
		rp := recovery[tp] // 0 when unknown: recover everything
		if !clean {
			// Without the clean-shutdown marker only what was flushed (the recovery point) is
			// trusted; everything after it is validated batch by batch.
			m.logger.WithField("partition", tp.String()).Debug("unclean shutdown: recovering")
		} else if _, ok := recovery[tp]; !ok {
			rp = 0
		} else {
			rp = cleanRecoveryPoint // clean: trust all segments (their indexes are still checked)
		}
		l, err := openLog(m.fs, filepath.Join(dir, name), tp, [16]byte{}, m.opts.Default, rp, starts[tp], m.now, m.logger)
		if err != nil {
			return fmt.Errorf("load %s: %w", filepath.Join(dir, name), err)
		}
		if hw, ok := hws[tp]; ok {
			l.SetHighWatermark(hw)
		}
		l.ld = m.logDir(dir)
		m.logs[tp], m.dirOf[tp] = l, dir
	}
	// The marker is removed once loaded: from now on a crash must be detected as unclean.
	_ = m.fs.Remove(filepath.Join(dir, cleanShutdownFile))
	return nil
}

// CheckMetaProperties makes every log dir's meta.properties name this cluster and broker,
// writing it where it is missing. A dir that belongs to another cluster or broker is an error.
func (m *Manager) CheckMetaProperties(clusterID string, brokerID int32) error {
	for _, dir := range m.opts.Dirs {
		mp, ok, err := readMetaProperties(m.fs, dir)
		if err != nil {
			return err
		}
		if !ok {
			if err := writeMetaProperties(m.fs, dir, MetaProperties{Version: 0, BrokerID: brokerID, ClusterID: clusterID}, m.now()); err != nil {
				return err
			}
			continue
		}
		if mp.ClusterID != "" && mp.ClusterID != clusterID {
			return fmt.Errorf("log dir %s belongs to cluster %s, but ZooKeeper's cluster id is %s "+
				"(wrong zookeeper.connect chroot, or a log dir reused from another cluster)", dir, mp.ClusterID, clusterID)
		}
		if mp.BrokerID >= 0 && mp.BrokerID != brokerID {
			return fmt.Errorf("log dir %s belongs to broker %d, but this is broker.id %d", dir, mp.BrokerID, brokerID)
		}
	}
	return nil
}

// GetOrCreateLog returns the partition's log, creating it in the log dir with the fewest
// partitions (Kafka's placement) if it does not exist. An existing log gets cfg applied.
func (m *Manager) GetOrCreateLog(tp TopicPartition, cfg Config, topicID [16]byte) (*Log, error) {
	m.mu.Lock()
	for {
		if m.closed {
			m.mu.Unlock()
			return nil, ErrLogClosed
		}
		if l := m.logs[tp]; l != nil {
			m.mu.Unlock()
			l.SetConfig(cfg)
			if topicID != ([16]byte{}) {
				l.setTopicID(topicID)
			}
			return l, nil
		}
		wait, busy := m.creating[tp]
		if !busy {
			break
		}
		m.mu.Unlock() // another caller is creating it: wait, then look again
		<-wait
		m.mu.Lock()
	}
	if dir, ok := m.offlineLogs[tp]; ok {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: the log of %s is in %s", ErrStorage, tp, dir)
	}
	// The least used online dir; the creation itself (directories, files, fsyncs) runs without
	// mu, so a LeaderAndIsr creating thousands of partitions creates them in parallel and
	// blocks nobody looking a log up.
	count := map[string]int{}
	for _, d := range m.dirOf {
		count[d]++
	}
	for d, n := range m.pending {
		count[d] += n
	}
	var dirs []string
	for _, d := range m.dirs {
		if !d.offline.Load() {
			dirs = append(dirs, d.path)
		}
	}
	if len(dirs) == 0 {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: no log directory is online to create %s in", ErrStorage, tp)
	}
	sort.SliceStable(dirs, func(i, j int) bool { return count[dirs[i]] < count[dirs[j]] })
	dir := dirs[0]
	done := make(chan struct{})
	m.creating[tp] = done
	m.pending[dir]++
	m.mu.Unlock()

	l, err := openLog(m.fs, filepath.Join(dir, tp.String()), tp, topicID, cfg, 0, 0, m.now, m.logger)

	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.creating, tp)
	m.pending[dir]--
	close(done)
	if err != nil {
		// Creating a partition directory and its first segment is I/O on the disk too.
		return nil, m.logDir(dir).fail(err)
	}
	if m.closed {
		_ = l.Close()
		return nil, ErrLogClosed
	}
	l.ld = m.logDir(dir)
	if l.ld.offline.Load() {
		// The dir failed while the log was being created: it is lost with the dir's other logs
		// (TakeDirOffline collects them under mu, after the dir is marked offline).
		l.mu.Lock()
		l.closeHandlesLocked()
		l.mu.Unlock()
		m.offlineLogs[tp] = dir
		return nil, fmt.Errorf("%w: %s went offline while %s was created in it", ErrStorage, dir, tp)
	}
	m.logs[tp], m.dirOf[tp] = l, dir
	return l, nil
}

// Log returns the partition's log or nil.
func (m *Manager) Log(tp TopicPartition) *Log {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.logs[tp]
}

// Logs returns every log.
func (m *Manager) Logs() []*Log {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Log, 0, len(m.logs))
	for _, l := range m.logs {
		out = append(out, l)
	}
	return out
}

// DeleteLog removes a partition (StopReplica with delete): the directory is renamed
// `<topic>-<partition>.<id>-delete`, as Kafka does, then removed in the background.
func (m *Manager) DeleteLog(tp TopicPartition) error {
	m.mu.Lock()
	l, dir := m.logs[tp], m.dirOf[tp]
	delete(m.logs, tp)
	delete(m.dirOf, tp)
	m.mu.Unlock()
	if l == nil {
		return nil
	}
	m.cleaner.abort(tp, dir)
	l.closeForDelete()
	var id [16]byte
	_, _ = rand.Read(id[:])
	doomed := filepath.Join(dir, tp.String()+"."+hex.EncodeToString(id[:])+"-delete")
	if err := m.fs.Rename(l.dir, doomed); err != nil {
		return fmt.Errorf("delete log %s: %w", tp, err)
	}
	// Make the rename durable: after a crash the partition must not reappear under its old name.
	if err := m.fs.SyncDir(dir); err != nil {
		m.logger.WithError(err).WithField("dir", dir).Warn("fsync of the log dir after renaming a deleted partition failed")
	}
	m.wg.Add(1)
	go func() { // owned by m: Close waits on m.wg
		defer m.wg.Done()
		if err := removeDir(m.fs, doomed); err != nil {
			m.logger.WithError(err).Warn("removing deleted log directory")
		}
	}()
	return nil
}

// Start runs the background loops until Close.
func (m *Manager) Start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started || m.closed {
		return
	}
	m.started = true
	every := func(d, def time.Duration, fn func(time.Time)) {
		if d <= 0 {
			d = def
		}
		m.wg.Add(1)
		go func() { // owned by m: stopped by Close through m.stop
			defer m.wg.Done()
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-m.stop:
					return
				case <-t.C:
					fn(m.now())
				}
			}
		}()
	}
	m.cleaner.start(m.stop, &m.wg)
	every(m.opts.RetentionCheckInterval, 5*time.Minute, m.RunRetention)
	// Kafka schedules each segment's deletion file.delete.delay.ms after its rename; waiting for
	// the next retention check instead would keep up to 5 minutes of the segments the cleaner
	// replaces on disk — on a busy __consumer_offsets partition, many times the compacted log.
	every(m.opts.DeleteCheckInterval, time.Second, m.removeExpiredDeletes)
	every(m.opts.FlushCheckInterval, time.Second, m.runFlush)
	every(m.opts.IdleFileCheckInterval, time.Minute, m.closeIdleFiles)
	every(m.opts.CheckpointInterval, time.Minute, func(time.Time) {
		if err := m.Checkpoint(); err != nil {
			m.logger.WithError(err).Error("writing checkpoints")
		}
	})
}

// RunRetention applies retention to every log once and removes expired `.deleted` files.
func (m *Manager) RunRetention(now time.Time) {
	for _, l := range m.Logs() {
		if n := l.deleteRetained(now); n > 0 {
			m.logger.WithFields(logrus.Fields{"topic": l.tp.Topic, "partition": l.tp.Partition, "segments": n}).Info("retention deleted segments")
		}
		l.removeExpiredDeletes(now)
		l.expireProducers(now)
	}
}

// removeExpiredDeletes removes every log's `.deleted` files whose file.delete.delay.ms has
// passed.
func (m *Manager) removeExpiredDeletes(now time.Time) {
	for _, l := range m.Logs() {
		l.removeExpiredDeletes(now)
	}
}

// closeIdleFiles closes every log's cold segment files unread for a whole interval.
func (m *Manager) closeIdleFiles(time.Time) {
	for _, l := range m.Logs() {
		l.closeIdleFiles()
	}
}

func (m *Manager) runFlush(now time.Time) {
	for _, l := range m.Logs() {
		if err := l.maybeFlushByTime(now); err != nil && err != ErrLogClosed {
			m.logger.WithError(err).Error("flush")
		}
	}
}

// Checkpoint writes the recovery-point, log-start-offset and replication-offset (high watermark)
// checkpoint of every log dir.
func (m *Manager) Checkpoint() error {
	m.mu.Lock()
	byDir := map[string][]*Log{}
	for tp, l := range m.logs {
		byDir[m.dirOf[tp]] = append(byDir[m.dirOf[tp]], l)
	}
	m.mu.Unlock()
	var errs []error
	for _, d := range m.dirs {
		if d.offline.Load() {
			continue // its logs are gone; a failed disk is not written to
		}
		dir := d.path
		rp, ls, hw := map[TopicPartition]int64{}, map[TopicPartition]int64{}, map[TopicPartition]int64{}
		for _, l := range byDir[dir] {
			rp[l.tp] = l.recoveryPointOffset()
			ls[l.tp] = l.LogStartOffset()
			hw[l.tp] = l.HighWatermark()
		}
		for _, c := range []struct {
			file    string
			offsets map[TopicPartition]int64
		}{{recoveryPointFile, rp}, {logStartOffsetFile, ls}, {replicationFile, hw}} {
			if err := writeOffsetCheckpoint(m.fs, filepath.Join(dir, c.file), c.offsets); err != nil {
				errs = append(errs, d.fail(err)) // Kafka takes the directory offline too
				break
			}
		}
	}
	return errors.Join(errs...)
}

// Close stops the loops, flushes and closes every log, writes the checkpoints and, only if all of
// that succeeded, the clean-shutdown marker that lets the next start skip recovery.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	close(m.stop)
	m.wg.Wait()
	err := m.closeLogs()
	if e := m.Checkpoint(); err == nil {
		err = e
	}
	if err != nil {
		return err
	}
	for _, d := range m.dirs {
		if d.offline.Load() {
			// No marker: the next start recovers what reached the failed disk.
			m.logger.WithField("dir", d.path).Warn("log dir is offline: no clean-shutdown marker written")
			continue
		}
		if err := writeFileAtomic(m.fs, filepath.Join(d.path, cleanShutdownFile), nil); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) closeLogs() error {
	var first error
	for _, l := range m.Logs() {
		if err := l.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
