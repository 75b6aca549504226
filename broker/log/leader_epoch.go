package log

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// epochEntry says leader epoch Epoch started at StartOffset.
type epochEntry struct {
	Epoch       int32
	StartOffset int64
}

// epochCache is the partition's leader-epoch history, persisted in `leader-epoch-checkpoint`
// (Kafka's format: version, count, "epoch startOffset" lines). Guarded by the owning Log's mutex.
type epochCache struct {
	fs      vfs.FS
	path    string
	entries []epochEntry
	// dirty: entries holds an assignment the file does not (see assign).
	dirty bool
}

func loadEpochCache(fs vfs.FS, dir string) (*epochCache, error) {
	c := &epochCache{fs: fs, path: filepath.Join(dir, leaderEpochFile)}
	data, err := readFile(fs, c.path)
	if os.IsNotExist(err) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read %s: %w", c.path, err)
	}
	c.entries, err = parseEpochCheckpoint(c.path, data)
	return c, err
}

// parseEpochCheckpoint reads leader-epoch-checkpoint's bytes. Each entry is applied the way
// Kafka's LeaderEpochFileCache assigns the entries it loads: negative epochs or offsets are
// skipped, and an entry whose epoch or start offset is not above the earlier ones replaces those
// it conflicts with. Whatever the file holds, the result is strictly increasing in both epoch
// and start offset, which every lookup relies on. Conflicting entries are always a suffix, so
// this is linear in the file.
func parseEpochCheckpoint(path string, data []byte) ([]epochEntry, error) {
	var out []epochEntry
	err := parseCheckpoint(path, data, 2, func(f []string) error {
		e, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("bad entry %v", f)
		}
		if e < 0 || o < 0 {
			return nil
		}
		for n := len(out); n > 0 && (int64(out[n-1].Epoch) >= e || out[n-1].StartOffset >= o); n-- {
			out = out[:n-1]
		}
		out = append(out, epochEntry{int32(e), o})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// flush writes the entries durably.
func (c *epochCache) flush() error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n%d\n", checkpointVersion, len(c.entries))
	for _, e := range c.entries {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	if err := writeFileAtomic(c.fs, c.path, b.Bytes()); err != nil {
		return err
	}
	c.dirty = false
	return nil
}

// flushIfDirty writes an assignment not yet in the file; the log calls it before its recovery
// point moves.
func (c *epochCache) flushIfDirty() error {
	if !c.dirty {
		return nil
	}
	return c.flush()
}

func (c *epochCache) latest() int32 {
	if len(c.entries) == 0 {
		return -1
	}
	return c.entries[len(c.entries)-1].Epoch
}

// assign records that epoch starts at offset; entries for newer or equal epochs and later offsets
// are dropped first, as Kafka does when a new leader epoch begins.
//
// It does not write the file: the log writes it before its recovery point passes offset (at a
// flush, after a roll's fsync, at close). That keeps every entry that a restart needs. Below the
// recovery point the file has it. At or above it, recovery reads the batches again, and each
// batch carries the epoch it was written in, so a lost entry whose epoch has batches comes back
// from them. A lost entry with no batch after it says nothing any OffsetsForLeaderEpoch answer
// depends on: the next epoch's start, or the log end, is where it would have ended too. Kafka
// 2.8 fsyncs the file on every assignment, which made a LeaderAndIsr with thousands of new
// leaders thousands of file creations on the controller's critical path.
func (c *epochCache) assign(epoch int32, offset int64) (bool, error) {
	if n := len(c.entries); n > 0 {
		last := c.entries[n-1]
		if last.Epoch == epoch {
			return false, nil
		}
		if epoch < last.Epoch {
			return false, fmt.Errorf("leader epoch %d is older than the latest %d", epoch, last.Epoch)
		}
	}
	kept := c.entries[:0]
	for _, e := range c.entries {
		if e.StartOffset < offset {
			kept = append(kept, e)
		}
	}
	c.entries = append(kept, epochEntry{epoch, offset})
	c.dirty = true
	return true, nil
}

// endOffsetFor is Kafka's LeaderEpochFileCache.endOffsetFor, the answer to
// OffsetsForLeaderEpoch: for the latest epoch, (it, the log end); for an older epoch, the
// largest known epoch <= it and the start offset of the first epoch after it; for an epoch
// older than every entry, (it, the first entry's start offset); for an undefined (-1) or a
// newer-than-latest epoch, (-1, -1).
func (c *epochCache) endOffsetFor(epoch int32, logEnd int64) (int32, int64) {
	n := len(c.entries)
	if epoch < 0 || n == 0 {
		return -1, -1
	}
	if c.entries[n-1].Epoch == epoch {
		return epoch, logEnd
	}
	// higher: the first entry with an epoch above the requested one.
	higher := -1
	for i := 0; i < n; i++ {
		if c.entries[i].Epoch > epoch {
			higher = i
			break
		}
	}
	switch {
	case higher < 0:
		return -1, -1
	case higher == 0:
		return epoch, c.entries[0].StartOffset
	default:
		return c.entries[higher-1].Epoch, c.entries[higher].StartOffset
	}
}

// truncateFrom drops entries starting at or after offset (log truncation).
func (c *epochCache) truncateFrom(offset int64) error {
	n := len(c.entries)
	for n > 0 && c.entries[n-1].StartOffset >= offset {
		n--
	}
	if n == len(c.entries) {
		return nil
	}
	c.entries = c.entries[:n]
	return c.flush()
}

// truncateBefore moves the first entry's start up to the new log start offset.
func (c *epochCache) truncateBefore(offset int64) error {
	i := 0
	for i+1 < len(c.entries) && c.entries[i+1].StartOffset <= offset {
		i++
	}
	if i == 0 && (len(c.entries) == 0 || c.entries[0].StartOffset >= offset) {
		return nil
	}
	c.entries = c.entries[i:]
	if c.entries[0].StartOffset < offset {
		c.entries[0].StartOffset = offset
	}
	return c.flush()
}

// epochForOffset is the epoch whose range holds offset: the last entry starting at or below it.
func (c *epochCache) epochForOffset(offset int64) int32 {
	for i := len(c.entries) - 1; i >= 0; i-- {
		if c.entries[i].StartOffset <= offset {
			return c.entries[i].Epoch
		}
	}
	return -1
}

// EpochForOffset is the leader epoch under which offset was written (-1 if unknown), which
// ListOffsets returns so a consumer can detect log truncation.
func (l *Log) EpochForOffset(offset int64) int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epochs.epochForOffset(offset)
}
