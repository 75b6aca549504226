package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	klog "github.com/gregor-broker/gregor/broker/log"
)

func init() {
	register("dump-log", "print the batches (and records) of segment and index files, like kafka-dump-log.sh", runDumpLog)
}

func runDumpLog(args []string) error { return runDumpLogAs("gregor dump-log", args) }

func runDumpLogAs(name string, args []string) error {
	fs := newFlags(name, name+" [--print-data-log] [--offsets-decoder] --files a.log,b.index")
	files := fs.String("files", "", "comma-separated .log, .index or .timeindex files")
	data := fs.Bool("print-data-log", false, "print each record's key, value and headers")
	offsets := fs.Bool("offsets-decoder", false, "decode records as __consumer_offsets' offset commits and group metadata (implies --print-data-log)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	decode := plainRecord
	if *offsets {
		*data, decode = true, offsetsRecord
	}
	if *files == "" {
		return usagef("--files is required")
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for _, f := range strings.Split(*files, ",") {
		fmt.Fprintf(w, "Dumping %s\n", f)
		var err error
		switch filepath.Ext(f) {
		case ".log":
			err = dumpSegment(w, f, *data, decode)
		case ".index":
			err = dumpIndex(w, f, 8, func(b []byte, base int64) string {
				return fmt.Sprintf("offset: %d position: %d", base+int64(binary.BigEndian.Uint32(b)), binary.BigEndian.Uint32(b[4:]))
			})
		case ".timeindex":
			err = dumpIndex(w, f, 12, func(b []byte, base int64) string {
				return fmt.Sprintf("timestamp: %d offset: %d", int64(binary.BigEndian.Uint64(b)), base+int64(binary.BigEndian.Uint32(b[8:])))
			})
		default:
			err = fmt.Errorf("%s: not a .log, .index or .timeindex file", f)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func baseOffsetOf(path string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), 10, 64)
	return n
}

// recordDecoder renders a record's key and payload for --print-data-log.
type recordDecoder func(key, value []byte) (string, string)

// plainRecord prints key and value as they are.
func plainRecord(key, value []byte) (string, string) { return string(key), string(value) }

func dumpSegment(w io.Writer, path string, data bool, decode recordDecoder) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Starting offset: %d\n", baseOffsetOf(path))
	// A large segment (up to log.segment.bytes, 1 GiB) takes a while: say how far it is.
	lastReport := time.Now()
	for pos := 0; pos < len(b); {
		if len(b) >= 64<<20 && time.Since(lastReport) >= time.Second {
			fmt.Fprintf(os.Stderr, "dump-log: %s: %d of %d MB\n", path, pos>>20, len(b)>>20)
			lastReport = time.Now()
		}
		h, err := klog.ParseBatchHeader(b[pos:])
		if err != nil || pos+h.Size() > len(b) {
			return fmt.Errorf("%s: invalid batch at position %d: %v", path, pos, err)
		}
		batch := b[pos : pos+h.Size()]
		_, recs, derr := klog.DecodeRecords(batch)
		fmt.Fprintf(w, "baseOffset: %d lastOffset: %d count: %d baseSequence: %d lastSequence: %d producerId: %d producerEpoch: %d partitionLeaderEpoch: %d isTransactional: %v isControl: %v position: %d CreateTime: %d size: %d magic: %d compresscodec: %s crc: %d isvalid: %v\n",
			h.BaseOffset, h.LastOffset(), h.NumRecords, h.BaseSequence, h.LastSequence(), h.ProducerID, h.ProducerEpoch,
			h.PartitionLeaderEpoch, h.IsTransactional(), h.IsControl(), pos, h.MaxTimestamp, h.Size(), h.Magic,
			klog.CodecName(h.Compression()), h.CRC, derr == nil)
		if data && derr == nil {
			for _, r := range recs {
				k, v := decode(r.Key, r.Value)
				fmt.Fprintf(w, "| offset: %d CreateTime: %d keySize: %d valueSize: %d sequence: %d headerKeys: [%s] key: %s payload: %s\n",
					r.Offset, r.Timestamp, size(r.Key), size(r.Value), seqOf(h, r.Offset), headerKeys(r.Headers), k, v)
			}
		}
		pos += h.Size()
	}
	return nil
}

func size(b []byte) int {
	if b == nil {
		return -1
	}
	return len(b)
}

func seqOf(h klog.BatchHeader, off int64) int64 {
	if h.BaseSequence < 0 {
		return -1
	}
	return int64(h.BaseSequence) + off - h.BaseOffset
}

func headerKeys(hs []klog.Header) string {
	keys := make([]string, len(hs))
	for i, h := range hs {
		keys[i] = h.Key
	}
	return strings.Join(keys, ",")
}

func dumpIndex(w io.Writer, path string, entry int, format func([]byte, int64) string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(b)%entry != 0 {
		return fmt.Errorf("%s: %d bytes is not a whole number of %d-byte entries", path, len(b), entry)
	}
	base := baseOffsetOf(path)
	for i := 0; i < len(b); i += entry {
		fmt.Fprintln(w, format(b[i:i+entry], base))
	}
	return nil
}
