package log

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// Kafka's checkpoint files are text: a version line (0), a count line, then one entry per line.
// They are replaced atomically: write a temp file, fsync it, rename over the old one, fsync the
// directory — so a crash leaves either the old or the new file, never a torn one.
const checkpointVersion = 0

// Names of the per-log-dir and per-partition checkpoint files.
const (
	recoveryPointFile  = "recovery-point-offset-checkpoint"
	logStartOffsetFile = "log-start-offset-checkpoint"
	replicationFile    = "replication-offset-checkpoint"
	leaderEpochFile    = "leader-epoch-checkpoint"
	cleanShutdownFile  = ".kafka_cleanshutdown"
)

// writeFileAtomic replaces path with data through a temporary file and a rename, both fsynced
// before it returns.
func writeFileAtomic(fs vfs.FS, path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := fs.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if n, err := f.Write(data); err != nil || n != len(data) {
		f.Close()
		if err == nil {
			err = io.ErrShortWrite
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := fs.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	if err := fs.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("fsync dir of %s: %w", path, err)
	}
	return nil
}

func readFile(fs vfs.FS, path string) ([]byte, error) {
	f, err := fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, st.Size())
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return buf[:n], nil
}

// writeOffsetCheckpoint writes "<topic> <partition> <offset>" entries, Kafka's format for the
// recovery-point, log-start-offset and replication-offset checkpoints.
func writeOffsetCheckpoint(fs vfs.FS, path string, offsets map[TopicPartition]int64) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n%d\n", checkpointVersion, len(offsets))
	for tp, off := range offsets {
		fmt.Fprintf(&b, "%s %d %d\n", tp.Topic, tp.Partition, off)
	}
	return writeFileAtomic(fs, path, b.Bytes())
}

// readOffsetCheckpoint reads such a file; a missing file is an empty map.
func readOffsetCheckpoint(fs vfs.FS, path string) (map[TopicPartition]int64, error) {
	data, err := readFile(fs, path)
	if os.IsNotExist(err) {
		return map[TopicPartition]int64{}, nil
	}
	if err != nil {
		return map[TopicPartition]int64{}, fmt.Errorf("read %s: %w", path, err)
	}
	return parseOffsetCheckpoint(path, data)
}

// parseOffsetCheckpoint parses the bytes of an offset checkpoint file (name is for errors). As in
// Kafka, values are not range-checked here; each reader decides what an offset it cannot use
// means (the cleaner resets one outside the log to the log start).
func parseOffsetCheckpoint(name string, data []byte) (map[TopicPartition]int64, error) {
	out := map[TopicPartition]int64{}
	err := parseCheckpoint(name, data, 3, checkpointOffsetEntry(out))
	return out, err
}

// checkpointOffsetEntry parses "<topic> <partition> <offset>" into out.
func checkpointOffsetEntry(out map[TopicPartition]int64) func([]string) error {
	return func(f []string) error {
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		off, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("bad entry %q", strings.Join(f, " "))
		}
		out[TopicPartition{f[0], int32(p)}] = off
		return nil
	}
}

// readCheckpoint parses the version/count/entries layout, calling fn per entry line.
func readCheckpoint(fs vfs.FS, path string, fields int, fn func([]string) error) error {
	data, err := readFile(fs, path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return parseCheckpoint(path, data, fields, fn)
}

// parseCheckpoint is readCheckpoint on the file's bytes; path names it in errors.
func parseCheckpoint(path string, data []byte, fields int, fn func([]string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	var count int
	for sc.Scan() {
		text := sc.Text()
		switch line {
		case 0:
			if v, err := strconv.Atoi(text); err != nil || v != checkpointVersion {
				return fmt.Errorf("%s: unsupported version %q", path, text)
			}
		case 1:
			var err error
			if count, err = strconv.Atoi(text); err != nil || count < 0 {
				return fmt.Errorf("%s: bad entry count %q", path, text)
			}
		default:
			f := strings.Fields(text)
			if len(f) != fields {
				return fmt.Errorf("%s: line %d: %q", path, line+1, text)
			}
			if err := fn(f); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		line++
	}
	if err := sc.Err(); err != nil { // a line longer than the scanner's buffer
		return fmt.Errorf("%s: line %d: %w", path, line+1, err)
	}
	if line < 2 || line-2 != count {
		return fmt.Errorf("%s: %d entries, header says %d", path, line-2, count)
	}
	return nil
}
