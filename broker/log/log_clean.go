package log

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// The Log's side of compaction: what the cleaner reads under Log.mu (which range is cleanable,
// the segments it will read, the producers whose last batch must survive) and the swap of a
// cleaned segment for the segments it replaces. Everything else the cleaner does — reading the
// old segments, writing the new one, fsyncing it — happens without the log's lock, because
// segments below the active one never change in place: they are only replaced (here), deleted
// (retention, DeleteRecords) or truncated away (TruncateTo), and replaceSegments checks under the
// lock that none of that happened to the segments it replaces.

// errCleaningAborted: the log changed under the cleaner (truncation, deletion, retention, close)
// or the cleaner is stopping; the round is dropped without error.
var errCleaningAborted = errors.New("log cleaning aborted")

// cleanView is a segment below the active one as the cleaner captured it.
type cleanView struct {
	s       *segment
	size    int64
	last    int64 // last offset, base-1 if empty
	entries []offsetEntry
	tsBytes int64 // time index size in bytes
}

// cleanableRange is Kafka's LogToClean for one log: the dirty section's bounds and sizes.
type cleanableRange struct {
	firstDirty       int64 // where the dirty section starts (the checkpoint, validated)
	firstUncleanable int64 // base of the first segment that may not be cleaned
	cleanBytes       int64 // bytes below firstDirty
	cleanableBytes   int64 // bytes in [firstDirty, firstUncleanable)
	needNow          bool  // max.compaction.lag.ms passed for some dirty record
	reset            bool  // the checkpoint was unusable (truncation, outside the log)
}

func (r cleanableRange) ratio() float64 {
	if total := r.cleanBytes + r.cleanableBytes; total > 0 {
		return float64(r.cleanableBytes) / float64(total)
	}
	return 0
}

// cleanable computes the log's cleanable range from the checkpointed first dirty offset (ok
// false: none), as Kafka's LogCleanerManager.cleanableOffsets does: the dirty section ends at the
// first of the high watermark (no transactions: it is the last stable offset), the active
// segment, and the first dirty segment holding a record newer than min.compaction.lag.ms,
// rounded down to a segment boundary.
func (l *Log) cleanable(checkpoint int64, ok bool, nowMs int64) (cleanableRange, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return cleanableRange{}, false
	}
	var r cleanableRange
	if l.cleanerTruncatedTo >= 0 {
		// The log was truncated since the cleaner last looked: what it called clean past the
		// truncation point is gone and new data may sit there.
		if ok && checkpoint > l.cleanerTruncatedTo {
			checkpoint, r.reset = l.cleanerTruncatedTo, true
		}
		l.cleanerTruncatedTo = -1
	}
	r.firstDirty = l.logStartOffset
	if ok {
		switch {
		case checkpoint < l.logStartOffset || checkpoint > l.nextOffset:
			r.reset = true
		default:
			r.firstDirty = checkpoint
		}
	}
	cfg := l.cfg()
	active := l.active()
	// Kafka's logSegments(from, to): from the segment holding from (its floor) up to base < to.
	floor := func(off int64) int {
		return max(sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > off })-1, 0)
	}
	dirty := l.segments[floor(r.firstDirty) : len(l.segments)-1] // non-active, from the dirty start
	unclean := min(l.hw.Load(), active.base)
	if lag := cfg.MinCompactionLagMs; lag > 0 {
		for _, s := range dirty {
			if s.maxTimestamp > nowMs-lag {
				unclean = min(unclean, s.base)
				break
			}
		}
	}
	unclean = max(unclean, r.firstDirty)
	r.firstUncleanable = active.base
	if unclean < active.base {
		r.firstUncleanable = l.segments[floor(unclean)].base
	}
	for _, s := range l.segments {
		if s.base < r.firstDirty {
			r.cleanBytes += s.size
		}
	}
	for _, s := range l.segments[floor(min(r.firstDirty, r.firstUncleanable)):] {
		if s.base >= r.firstUncleanable {
			break
		}
		r.cleanableBytes += s.size
	}
	// max.compaction.lag.ms: a dirty segment whose first batch is older than the lag must be
	// cleaned whatever the dirty ratio.
	if lag := cfg.MaxCompactionLagMs; lag < math.MaxInt64 {
		for _, s := range dirty {
			if s.firstBatchTs > 0 && s.firstBatchTs < nowMs-lag {
				r.needNow = true
				break
			}
		}
	}
	return r, true
}

// cleanViews captures every segment with a base below upTo (never the active one).
func (l *Log) cleanViews(upTo int64) ([]cleanView, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errCleaningAborted
	}
	var out []cleanView
	for _, s := range l.segments[:len(l.segments)-1] {
		if s.base >= upTo {
			break
		}
		out = append(out, cleanView{s: s, size: s.size, last: s.lastOffset, entries: s.index.entries,
			tsBytes: int64(len(s.timeIndex.entries)) * timeEntrySize})
	}
	return out, nil
}

// stillCurrent reports whether the captured segments are still the log's, unchanged: an error
// while reading them is then a real one, not the side effect of a concurrent deletion.
func (l *Log) stillCurrent(views []cleanView) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.locateViewsLocked(views)
	return ok
}

func (l *Log) locateViewsLocked(views []cleanView) (int, bool) {
	if l.closed || len(views) == 0 {
		return 0, false
	}
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base >= views[0].s.base })
	if i+len(views) >= len(l.segments) { // the last segment is active and never replaced
		return 0, false
	}
	for k, v := range views {
		if s := l.segments[i+k]; s != v.s || s.size != v.size {
			return 0, false
		}
	}
	return i, true
}

// lastOffsetsOfActiveProducers maps each producer the log tracks to the last offset of its last
// batch: that batch survives cleaning, even emptied, so the producer's sequence state does too.
func (l *Log) lastOffsetsOfActiveProducers() map[int64]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[int64]int64, len(l.producers.producers))
	for id, e := range l.producers.producers {
		if n := len(e.batches); n > 0 {
			out[id] = e.batches[n-1].lastOffs
		}
	}
	return out
}

// replaceSegments swaps cleaned in for the segments old, Kafka's crash-safe order:
//
//  1. rename the cleaned files `.cleaned` → `.swap` (the cleaned data is already fsynced);
//  2. rename the old segments' files `.deleted` (removed after file.delete.delay.ms, so readers
//     that captured them finish);
//  3. rename the `.swap` files to their live names, and fsync the directory.
//
// A crash before 1 completes leaves `.cleaned` files, which openLog removes: the old segments
// stand. From 1 on, openLog finishes the swap: it deletes the old segments a `.swap` log covers
// and renames the `.swap` files (recoverSwaps). Holding mu for the renames is the only time the
// cleaner blocks appends and reads.
func (l *Log) replaceSegments(old []cleanView, cleaned *segment) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.locateViewsLocked(old)
	if !ok {
		return errCleaningAborted
	}
	if err := cleaned.changeSuffix(swapSuffix); err != nil {
		return err
	}
	at := l.now().Add(time.Duration(l.cfg().FileDeleteDelayMs) * time.Millisecond)
	for _, v := range old {
		if err := v.s.markDeleted(); err != nil {
			// The old files must not stay live beside the new segment: remove them outright.
			l.logger.WithError(err).WithField("segment", v.s.base).Error("renaming a cleaned-away segment for deletion; removing it")
			for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
				if err := l.fs.Remove(v.s.path(suf)); err != nil && !os.IsNotExist(err) {
					l.logger.WithError(err).WithField("segment", v.s.base).Error("removing a cleaned-away segment")
				}
			}
		}
		l.pendingDeletes = append(l.pendingDeletes, pendingDelete{seg: v.s, at: at})
	}
	if err := cleaned.changeSuffix(""); err != nil {
		// The new segment is in place under its `.swap` names (its path follows them); the next
		// open completes the rename.
		l.logger.WithError(err).WithField("segment", cleaned.base).Error("renaming a cleaned segment to its live name")
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		l.logger.WithError(err).Error("fsync of the log directory after a segment swap")
	}
	segs := make([]*segment, 0, len(l.segments)-len(old)+1)
	segs = append(segs, l.segments[:i]...)
	segs = append(segs, cleaned)
	segs = append(segs, l.segments[i+len(old):]...)
	l.segments = segs
	// Producer snapshots at the bases of segments that no longer exist are dropped, as Kafka's
	// replaceSegments does; the producer state itself is untouched by cleaning.
	for _, v := range old[1:] {
		_ = l.fs.Remove(l.producers.snapshots.path(v.s.base))
	}
	l.logger.WithFields(logrus.Fields{"segment": cleaned.base, "replaced": len(old), "bytes": cleaned.size}).Debug("swapped in a cleaned segment")
	return nil
}

// noteTruncationLocked records, for the cleaner, that the log was truncated to offset.
func (l *Log) noteTruncationLocked(offset int64) {
	if l.cleanerTruncatedTo < 0 || offset < l.cleanerTruncatedTo {
		l.cleanerTruncatedTo = offset
	}
}

// recoverSwaps finishes or rolls back a segment swap that a crash interrupted, before the
// segments are loaded, as Kafka's LogLoader does:
//   - `.deleted` and `.tmp` files are leftovers of finished work: removed;
//   - a `.swap` file at or above the lowest `.cleaned` file belongs to a swap whose first step
//     (`.cleaned` → `.swap`) had not finished, so the old segments are all intact: both go;
//   - every other `.swap` log covers [its base, its last offset]: the live segment files in that
//     range are the old segments it replaced (deleted), then every `.swap` file is renamed to its
//     live name;
//   - index files without a `.log` are removed.
//
// It returns the directory's entries afterwards.
func (l *Log) recoverSwaps(entries []os.DirEntry, cfg Config) ([]os.DirEntry, error) {
	type file struct {
		name string
		base int64
	}
	var swaps, cleaned []file
	minCleaned := int64(math.MaxInt64)
	changed := false
	for _, e := range entries {
		name := e.Name()
		base, hasBase := fileBaseOffset(name)
		switch {
		case strings.HasSuffix(name, deletedSuffix), strings.HasSuffix(name, ".tmp"):
			_ = l.fs.Remove(filepath.Join(l.dir, name))
			changed = true
		case strings.HasSuffix(name, cleanedSuffix):
			cleaned = append(cleaned, file{name, base})
			if hasBase {
				minCleaned = min(minCleaned, base)
			}
		case strings.HasSuffix(name, swapSuffix) && hasBase:
			swaps = append(swaps, file{name, base})
		}
	}
	var valid []file
	for _, f := range swaps {
		if f.base >= minCleaned {
			l.logger.WithField("file", f.name).Info("removing the .swap file of a swap interrupted before it began")
			_ = l.fs.Remove(filepath.Join(l.dir, f.name))
			changed = true
			continue
		}
		valid = append(valid, f)
	}
	for _, f := range cleaned {
		_ = l.fs.Remove(filepath.Join(l.dir, f.name))
		changed = true
	}
	if len(valid) > 0 {
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		for _, f := range valid {
			if f.name != segmentName(f.base)+logSuffix+swapSuffix {
				continue
			}
			next, err := scanNextOffset(l.fs, filepath.Join(l.dir, f.name), f.base)
			if err != nil {
				return nil, err
			}
			lo, hi = min(lo, f.base), max(hi, next)
		}
		for _, e := range entries {
			name := e.Name()
			base, ok := fileBaseOffset(name)
			if !ok || base < lo || base >= hi {
				continue
			}
			for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
				if name == segmentName(base)+suf {
					l.logger.WithField("file", name).Info("deleting a segment file a cleaned segment replaced before a crash")
					if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil && !os.IsNotExist(err) {
						return nil, fmt.Errorf("complete interrupted swap: %w", err)
					}
				}
			}
		}
		for _, f := range valid {
			live := strings.TrimSuffix(f.name, swapSuffix)
			l.logger.WithField("file", f.name).Info("completing a segment swap interrupted by a crash")
			if err := l.fs.Rename(filepath.Join(l.dir, f.name), filepath.Join(l.dir, live)); err != nil {
				return nil, fmt.Errorf("complete interrupted swap of %s: %w", f.name, err)
			}
		}
		if err := l.fs.SyncDir(l.dir); err != nil {
			return nil, fmt.Errorf("complete interrupted swap: %w", err)
		}
		changed = true
	}
	if changed {
		var err error
		if entries, err = l.fs.ReadDir(l.dir); err != nil {
			return nil, fmt.Errorf("list %s: %w", l.dir, err)
		}
	}
	// Orphaned indexes (their log went with a swap or a deletion) would be mistaken for a future
	// segment's.
	logs := map[int64]bool{}
	for _, e := range entries {
		if base, ok := parseSegmentName(e.Name(), logSuffix); ok {
			logs[base] = true
		}
	}
	kept := entries[:0:0]
	for _, e := range entries {
		name := e.Name()
		if base, ok := parseSegmentName(name, indexSuffix); ok && !logs[base] {
			_ = l.fs.Remove(filepath.Join(l.dir, name))
			continue
		}
		if base, ok := parseSegmentName(name, timeIndexSuffix); ok && !logs[base] {
			_ = l.fs.Remove(filepath.Join(l.dir, name))
			continue
		}
		kept = append(kept, e)
	}
	return kept, nil
}

// fileBaseOffset parses the 20-digit offset a segment-related file name starts with.
func fileBaseOffset(name string) (int64, bool) {
	if len(name) < 21 || name[20] != '.' {
		return 0, false
	}
	n, err := strconv.ParseInt(name[:20], 10, 64)
	return n, err == nil && n >= 0
}

// scanNextOffset returns the offset after the last whole batch of a segment file (base if none):
// Kafka's readNextOffset of a `.swap` segment.
func scanNextOffset(fs vfs.FS, path string, base int64) (int64, error) {
	f, err := fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	r := headerReader{f: f, limit: st.Size()}
	next := base
	for pos := int64(0); pos < st.Size(); {
		h, err := r.header(pos)
		if err != nil || pos+int64(h.Size()) > st.Size() {
			break
		}
		next = h.LastOffset() + 1
		pos += int64(h.Size())
	}
	return next, nil
}
