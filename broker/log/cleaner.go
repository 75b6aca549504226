package log

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// The log cleaner compacts logs whose cleanup.policy has compact, as Kafka's LogCleaner does:
//
//   - a log is split at the cleaner checkpoint into a clean head and a dirty tail; the dirty
//     section ends at the first uncleanable offset (the high watermark, the active segment,
//     min.compaction.lag.ms — Log.cleanable);
//   - each round takes the compacted log with the highest dirty ratio above its
//     min.cleanable.dirty.ratio (or any whose max.compaction.lag.ms has passed), builds a key =>
//     latest offset map over the dirty section (offsetMap, bounded by
//     log.cleaner.dedupe.buffer.size), then recopies every segment from the log start to the
//     end of what the map covers, in groups that fit one segment, keeping a record only if no
//     later record has its key; tombstones survive until delete.retention.ms after the first
//     cleaning that kept them (KIP-534's delete horizon);
//   - batches keep their boundaries, offsets, producer id/epoch/base sequence and codec; a batch
//     whose records all go survives as an empty batch if it is its producer's last, so
//     idempotent producers keep their sequence state across cleaning and restarts;
//   - each group is written to `.cleaned` files, fsynced, and swapped in (Log.replaceSegments);
//   - progress is the `cleaner-offset-checkpoint` file of each log dir (cleaner_checkpoint.go).
//
// Control batches are kept as they are: Gregor has no transactions yet, so there are no aborted
// transactions to remove and no markers that could go.

// CleanerConfig is the cleaner's broker-level settings, Kafka's log.cleaner.* keys.
type CleanerConfig struct {
	Enable           bool          // log.cleaner.enable: run the cleaner goroutines
	Threads          int           // log.cleaner.threads
	DedupeBufferSize int64         // log.cleaner.dedupe.buffer.size, shared by the threads
	LoadFactor       float64       // log.cleaner.io.buffer.load.factor: how full a key map may get
	Backoff          time.Duration // log.cleaner.backoff.ms: sleep when no log needs cleaning
}

// DefaultCleanerConfig is Kafka's default for every field.
func DefaultCleanerConfig() CleanerConfig {
	return CleanerConfig{Enable: true, Threads: 1, DedupeBufferSize: 128 << 20, LoadFactor: 0.9, Backoff: 15 * time.Second}
}

func (c CleanerConfig) sanitize() CleanerConfig {
	d := DefaultCleanerConfig()
	if c.Threads < 0 {
		c.Threads = 0
	}
	if c.DedupeBufferSize <= 0 {
		c.DedupeBufferSize = d.DedupeBufferSize
	}
	if c.LoadFactor <= 0 || c.LoadFactor > 1 {
		c.LoadFactor = d.LoadFactor
	}
	if c.Backoff < time.Millisecond {
		c.Backoff = time.Millisecond // log.cleaner.backoff.ms=0 is allowed; never spin
	}
	return c
}

// CleanerStats describes one cleaning round, as Kafka's cleaner logs it.
type CleanerStats struct {
	TopicPartition    TopicPartition
	FirstDirty        int64 // the dirty section cleaned: [FirstDirty, EndOffset)
	EndOffset         int64
	BytesRead         int64 // of every segment recopied
	BytesWritten      int64
	RecordsRead       int64
	RecordsWritten    int64
	MapBytesRead      int64 // of the dirty section, to build the key map
	MapRecords        int64
	Groups            int // cleaned segments swapped in
	BufferUtilization float64
	Elapsed           time.Duration
}

// logCleaner is the Manager's cleaner: its goroutines (Start/Close) and the state they share.
//
// Concurrency: mu guards inProgress, uncleanable and checkpoints. It is taken without
// Manager.mu held, and Log.mu may be taken while holding it (choosing a log reads each log's
// offsets); no lock is held while a cleaning reads or writes segments.
type logCleaner struct {
	m   *Manager
	cfg CleanerConfig

	mu          sync.Mutex
	cond        *sync.Cond // signalled when a cleaning finishes (abort waits on it)
	inProgress  map[TopicPartition]*cleanJob
	uncleanable map[TopicPartition]bool // failed with a real error; skipped until the log is deleted
	checkpoints map[string]map[TopicPartition]int64

	syncThread *cleanerThread // for cleanOnce, the synchronous entry point tests use
}

// cleanJob is one claimed log.
type cleanJob struct {
	log   *Log
	dir   string
	rng   cleanableRange
	abort atomic.Bool // set by abort (DeleteLog)
}

func newLogCleaner(m *Manager, cfg CleanerConfig) *logCleaner {
	c := &logCleaner{m: m, cfg: cfg.sanitize(), inProgress: map[TopicPartition]*cleanJob{},
		uncleanable: map[TopicPartition]bool{}, checkpoints: map[string]map[TopicPartition]int64{}}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// start runs the cleaner goroutines; they stop when stop closes. Owned by the Manager: its wg.
func (c *logCleaner) start(stop <-chan struct{}, wg *sync.WaitGroup) {
	if !c.cfg.Enable {
		return
	}
	for i := 0; i < c.cfg.Threads; i++ {
		th := c.newThread(stop)
		wg.Add(1)
		go func() { // owned by the Manager: stopped by Close through stop, waited on by its wg
			defer wg.Done()
			timer := time.NewTimer(0)
			defer timer.Stop()
			for {
				select {
				case <-stop:
					return
				case <-timer.C:
				}
				cleaned, _, _ := c.cleanFilthiest(th)
				next := c.cfg.Backoff
				if cleaned {
					next = 0 // Kafka's cleaner looks for the next log at once after a cleaning
				}
				timer.Reset(next)
			}
		}()
	}
}

func (c *logCleaner) newThread(stop <-chan struct{}) *cleanerThread {
	threads := max(c.cfg.Threads, 1)
	perThread := c.cfg.DedupeBufferSize / int64(threads)
	perThread = min(perThread, math.MaxInt32) // Kafka's limit per cleaner thread
	return &cleanerThread{c: c, stop: stop, omap: newOffsetMap(), maxSlots: int(perThread / offsetMapEntryBytes)}
}

// cleanOnce cleans the filthiest log once, synchronously (tests, tools). It reports whether a
// log was cleaned.
func (c *logCleaner) cleanOnce() (bool, CleanerStats, error) {
	if c.syncThread == nil {
		c.syncThread = c.newThread(nil)
	}
	return c.cleanFilthiest(c.syncThread)
}

// cleanFilthiest claims the log most in need of cleaning, cleans it and records the progress.
func (c *logCleaner) cleanFilthiest(th *cleanerThread) (bool, CleanerStats, error) {
	job := c.grabFilthiest()
	if job == nil {
		return false, CleanerStats{}, nil
	}
	stats, err := th.clean(job)
	end := job.rng.firstDirty
	switch {
	case err == nil:
		end = stats.EndOffset
		c.m.logger.WithFields(logrus.Fields{"topic": job.log.tp.Topic, "partition": job.log.tp.Partition,
			"dirty_start": stats.FirstDirty, "dirty_end": stats.EndOffset, "bytes_read": stats.BytesRead,
			"bytes_written": stats.BytesWritten, "records_read": stats.RecordsRead, "records_written": stats.RecordsWritten,
			"buffer_utilization": fmt.Sprintf("%.1f%%", 100*stats.BufferUtilization), "elapsed": stats.Elapsed}).Info("cleaned log")
	case errors.Is(err, errCleaningAborted):
		err = nil
	default:
		c.m.logger.WithError(err).WithFields(logrus.Fields{"topic": job.log.tp.Topic, "partition": job.log.tp.Partition}).
			Error("cleaning failed; the partition is marked uncleanable")
	}
	c.doneCleaning(job, end, err)
	return true, stats, err
}

// grabFilthiest picks and claims the compacted log with the highest cleanable ratio among those
// that qualify (Kafka's grabFilthiestCompactedLog), or returns nil.
func (c *logCleaner) grabFilthiest() *cleanJob {
	type candidate struct {
		l   *Log
		dir string
	}
	var cands []candidate
	c.m.mu.Lock()
	for tp, l := range c.m.logs {
		cands = append(cands, candidate{l, c.m.dirOf[tp]})
	}
	c.m.mu.Unlock()
	now := c.m.now().UnixMilli()
	c.mu.Lock()
	defer c.mu.Unlock()
	var best *cleanJob
	for _, cand := range cands {
		l := cand.l
		cfg := l.cfg()
		if !cfg.Compact() || c.inProgress[l.tp] != nil || c.uncleanable[l.tp] {
			continue
		}
		ckpt, ok := c.checkpoints[cand.dir][l.tp]
		rng, open := l.cleanable(ckpt, ok, now)
		if !open {
			continue
		}
		if rng.reset {
			c.setCheckpointLocked(cand.dir, l.tp, rng.firstDirty)
		}
		if rng.cleanBytes+rng.cleanableBytes == 0 {
			continue
		}
		if !(rng.needNow && rng.cleanableBytes > 0) && !(rng.ratio() > cfg.MinCleanableDirtyRatio) {
			continue
		}
		if best == nil || rng.ratio() > best.rng.ratio() {
			best = &cleanJob{log: l, dir: cand.dir, rng: rng}
		}
	}
	if best != nil {
		c.inProgress[best.log.tp] = best
	}
	return best
}

// doneCleaning releases a claimed log and advances its checkpoint to end.
func (c *logCleaner) doneCleaning(job *cleanJob, end int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inProgress, job.log.tp)
	c.cond.Broadcast()
	if job.abort.Load() {
		return
	}
	if err != nil {
		c.uncleanable[job.log.tp] = true
		return
	}
	c.setCheckpointLocked(job.dir, job.log.tp, end)
}

// abort stops a cleaning of tp in progress and waits until it has stopped, then forgets the
// partition (DeleteLog).
func (c *logCleaner) abort(tp TopicPartition, dir string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		job := c.inProgress[tp]
		if job == nil {
			break
		}
		job.abort.Store(true)
		c.cond.Wait()
	}
	delete(c.uncleanable, tp)
	if _, ok := c.checkpoints[dir][tp]; ok {
		delete(c.checkpoints[dir], tp)
		c.writeCheckpointLocked(dir)
	}
}

// cleanerThread is one cleaner goroutine's state: its key map and buffers, reused round to round.
type cleanerThread struct {
	c        *logCleaner
	stop     <-chan struct{}
	omap     *offsetMap
	maxSlots int
	codec    recordCodec
	readBuf  []byte
	recs     []rawRecord
	kept     []rawRecord
	out      []byte
	outHdrs  []BatchHeader
}

// cleanerIOBuffer is how much of a segment the cleaner reads at a time, and how much cleaned
// output it gathers before one write (a batch larger than it is read whole).
const cleanerIOBuffer = 1 << 20

func (th *cleanerThread) checkDone(job *cleanJob) error {
	if job.abort.Load() {
		return errCleaningAborted
	}
	select {
	case <-th.stop:
		return errCleaningAborted
	default:
		return nil
	}
}

// clean runs one round on a claimed log (Kafka's Cleaner.doClean).
func (th *cleanerThread) clean(job *cleanJob) (CleanerStats, error) {
	start := time.Now()
	l, rng := job.log, job.rng
	stats := CleanerStats{TopicPartition: l.tp, FirstDirty: rng.firstDirty}
	nowMs := l.now().UnixMilli()
	cfg := l.cfg()
	views, err := l.cleanViews(rng.firstUncleanable)
	if err != nil {
		return stats, err
	}
	// Size the map for the dirty section: it holds at most one key per offset.
	want := float64(rng.firstUncleanable-rng.firstDirty)/th.c.cfg.LoadFactor + 2
	slots := th.maxSlots
	if want < float64(slots) {
		slots = int(want)
	}
	if float64(slots)*th.c.cfg.LoadFactor < 1 {
		return stats, fmt.Errorf("log.cleaner.dedupe.buffer.size %d is too small to hold one key per cleaner thread", th.c.cfg.DedupeBufferSize)
	}
	th.omap.reset(slots, th.c.cfg.LoadFactor)
	if err := th.buildOffsetMap(job, views, rng.firstDirty, rng.firstUncleanable, &stats); err != nil {
		return stats, th.classify(job, views, err)
	}
	stats.EndOffset = max(th.omap.latestOffset+1, rng.firstDirty) // never move the checkpoint back
	stats.BufferUtilization = th.omap.utilization()
	var toClean []cleanView
	for _, v := range views {
		if v.s.base < stats.EndOffset {
			toClean = append(toClean, v)
		}
	}
	for _, group := range groupSegments(toClean, cfg.SegmentBytes, int64(cfg.MaxIndexSize)) {
		if err := th.cleanGroup(job, group, nowMs, cfg, &stats); err != nil {
			return stats, th.classify(job, group, err)
		}
		stats.Groups++
	}
	stats.Elapsed = time.Since(start)
	return stats, nil
}

// classify turns an error caused by the log changing underneath (its segments deleted or
// truncated while being read) into an abort.
func (th *cleanerThread) classify(job *cleanJob, views []cleanView, err error) error {
	if errors.Is(err, errCleaningAborted) || !job.log.stillCurrent(views) {
		return errCleaningAborted
	}
	return err
}

// forEachBatch walks the whole batches of a captured segment from pos, reading in chunks.
func (th *cleanerThread) forEachBatch(job *cleanJob, v cleanView, pos int64, fn func(batch []byte, h BatchHeader) error) error {
	if cap(th.readBuf) < cleanerIOBuffer {
		th.readBuf = make([]byte, cleanerIOBuffer)
	}
	// One segment's file at a time: cleaning a long compacted log does not open all of it.
	f, err := job.log.segmentFile(v.s)
	if err != nil {
		return err
	}
	defer f.release()
	for pos < v.size {
		if err := th.checkDone(job); err != nil {
			return err
		}
		buf := th.readBuf[:min(int64(cap(th.readBuf)), v.size-pos)]
		n, err := f.ReadAt(buf, pos)
		if n < len(buf) {
			return fmt.Errorf("read segment %d at %d: %d of %d bytes: %v", v.s.base, pos, n, len(buf), err)
		}
		used := 0
		for used+batchHeaderSize <= len(buf) {
			h, err := ParseBatchHeader(buf[used:])
			if err != nil {
				return fmt.Errorf("segment %d at %d: %w", v.s.base, pos+int64(used), err)
			}
			if used+h.Size() > len(buf) {
				break
			}
			if err := fn(buf[used:used+h.Size()], h); err != nil {
				return err
			}
			used += h.Size()
		}
		if used == 0 {
			// The next batch is larger than the buffer: grow to fit it, as Kafka's cleaner does.
			h, err := ParseBatchHeader(buf)
			if err != nil || pos+int64(h.Size()) > v.size {
				return fmt.Errorf("%w: segment %d at %d: batch does not fit the segment", ErrCorruptMessage, v.s.base, pos)
			}
			th.readBuf = make([]byte, h.Size())
			continue
		}
		pos += int64(used)
	}
	return nil
}

// buildOffsetMap maps every key of the dirty section [start, end) to its latest offset, stopping
// early if the map fills (the rest of the section is cleaned next round). Kafka's buildOffsetMap.
func (th *cleanerThread) buildOffsetMap(job *cleanJob, views []cleanView, start, end int64, stats *CleanerStats) error {
	m := th.omap
	for i, v := range views {
		if v.last < start && v.size > 0 {
			continue
		}
		next := end
		if i+1 < len(views) {
			next = views[i+1].s.base
		}
		full := false
		err := th.forEachBatch(job, v, int64(lookupPosition(v.entries, v.s.base, start)), func(batch []byte, h BatchHeader) error {
			stats.MapBytesRead += int64(len(batch))
			if h.LastOffset() < start {
				return nil
			}
			if !h.IsControl() {
				var err error
				if th.recs, err = th.codec.records(batch, h, th.recs); err != nil {
					return err
				}
				for _, r := range th.recs {
					if r.key == nil || r.offset < start {
						continue
					}
					if m.full() {
						full = true
						return errMapFull
					}
					m.put(r.key, r.offset)
					stats.MapRecords++
				}
			}
			m.advanceTo(h.LastOffset())
			return nil
		})
		if full {
			return nil
		}
		if err != nil {
			return err
		}
		m.advanceTo(next - 1) // offsets in a gap at the segment's end are covered too
	}
	return nil
}

var errMapFull = errors.New("offset map full")

// groupSegments splits segments into runs that each fit one segment: total log bytes within
// segment.bytes, index bytes within segment.index.bytes, and offsets within 2^31 of the run's base
// (Kafka's groupSegmentsBySize), so repeated cleanings do not leave ever smaller segments.
func groupSegments(views []cleanView, maxBytes, maxIndexBytes int64) [][]cleanView {
	var groups [][]cleanView
	for len(views) > 0 {
		g := views[:1]
		size := views[0].size
		idx := int64(len(views[0].entries)) * offsetEntrySize
		tidx := views[0].tsBytes
		for len(g) < len(views) {
			n := views[len(g)]
			if size+n.size > maxBytes || idx+int64(len(n.entries))*offsetEntrySize > maxIndexBytes ||
				tidx+n.tsBytes > maxIndexBytes || (n.size > 0 && n.last-g[0].s.base > math.MaxInt32) {
				break
			}
			size += n.size
			idx += int64(len(n.entries)) * offsetEntrySize
			tidx += n.tsBytes
			g = views[:len(g)+1]
		}
		groups = append(groups, g)
		views = views[len(g):]
	}
	return groups
}

// cleanGroup recopies a group of segments into one cleaned segment and swaps it in (Kafka's
// cleanSegments).
func (th *cleanerThread) cleanGroup(job *cleanJob, group []cleanView, nowMs int64, cfg Config, stats *CleanerStats) (err error) {
	l := job.log
	cleaned, err := createCleanedSegment(l.fs, l.dir, group[0].s.base, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			cleaned.removeFiles()
		}
	}()
	producers := l.lastOffsetsOfActiveProducers()
	horizon := nowMs + cfg.DeleteRetentionMs
	if cfg.DeleteRetentionMs > math.MaxInt64-nowMs {
		horizon = math.MaxInt64
	}
	th.out, th.outHdrs = th.out[:0], th.outHdrs[:0]
	flush := func() error {
		if len(th.out) == 0 {
			return nil
		}
		if err := cleaned.append(th.out, th.outHdrs); err != nil {
			return err
		}
		stats.BytesWritten += int64(len(th.out))
		th.out, th.outHdrs = th.out[:0], th.outHdrs[:0]
		return nil
	}
	for _, v := range group {
		err := th.forEachBatch(job, v, 0, func(batch []byte, h BatchHeader) error {
			stats.BytesRead += int64(len(batch))
			if err := th.filterBatch(batch, h, producers, nowMs, horizon, stats); err != nil {
				return err
			}
			if len(th.out) >= cleanerIOBuffer {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := cleaned.sealTimeIndex(); err != nil {
		return err
	}
	if err := cleaned.flush(); err != nil {
		return err
	}
	if err := th.checkDone(job); err != nil {
		return err
	}
	return l.replaceSegments(group, cleaned)
}

// filterBatch appends to th.out what survives of one batch (Kafka's logCleanerFilter with
// MemoryRecords.filterTo):
//   - a control batch is kept as it is;
//   - a record is kept if it is past what the map covers, or if its key has no later record in
//     the map — and, for a tombstone, only until the batch's delete horizon has passed; a record
//     without a key in a compacted log is dropped;
//   - a batch keeping every record, and needing no new delete horizon, is copied byte for byte;
//     one keeping some is rebuilt with its codec (a batch with a kept tombstone gets a delete
//     horizon of now + delete.retention.ms the first time);
//   - a batch keeping none is dropped, unless it is its producer's last: then its header stays,
//     empty, so the producer's sequence state survives.
func (th *cleanerThread) filterBatch(batch []byte, h BatchHeader, producers map[int64]int64, nowMs, newHorizon int64, stats *CleanerStats) error {
	if h.IsControl() {
		th.keepOriginal(batch, h)
		return nil
	}
	var err error
	if th.recs, err = th.codec.records(batch, h, th.recs); err != nil {
		return err
	}
	stats.RecordsRead += int64(len(th.recs))
	horizon, hasHorizon := h.DeleteHorizon()
	retainDeletes := !hasHorizon || nowMs < horizon
	m := th.omap
	kept := th.kept[:0]
	tombstones := false
	for _, r := range th.recs {
		keep := r.offset > m.latestOffset
		if !keep && r.key != nil {
			keep = r.offset >= m.get(r.key) && (!r.tombstone || retainDeletes)
		}
		if keep {
			kept = append(kept, r)
			tombstones = tombstones || r.tombstone
		}
	}
	th.kept = kept
	stats.RecordsWritten += int64(len(kept))
	needHorizon := tombstones && !hasHorizon
	switch {
	case len(kept) > 0 && len(kept) == len(th.recs) && !needHorizon:
		th.keepOriginal(batch, h)
	case len(kept) > 0:
		if needHorizon {
			horizon, hasHorizon = newHorizon, true
		}
		var nh BatchHeader
		if th.out, nh, err = th.codec.buildBatch(th.out, h, kept, horizon, hasHorizon); err != nil {
			return err
		}
		th.outHdrs = append(th.outHdrs, nh)
	case h.ProducerID >= 0 && isLast(producers, h):
		var nh BatchHeader
		th.out, nh = emptyBatch(th.out, h)
		th.outHdrs = append(th.outHdrs, nh)
	}
	return nil
}

func (th *cleanerThread) keepOriginal(batch []byte, h BatchHeader) {
	th.out = append(th.out, batch...)
	th.outHdrs = append(th.outHdrs, h)
}

// isLast reports whether h is its producer's last batch in the log.
func isLast(producers map[int64]int64, h BatchHeader) bool {
	last, ok := producers[h.ProducerID]
	return ok && last == h.LastOffset()
}
