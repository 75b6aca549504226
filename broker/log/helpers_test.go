package log

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

var (
	testZstdOnce sync.Once
	testZstd     *zstd.Encoder // EncodeAll is safe for concurrent use
	testCodecMu  sync.Mutex    // guards the reused writers below
	testGzip     *gzip.Writer
	testLz4      *lz4.Writer
)

type testRecord struct {
	key, value []byte
	ts         int64
	headers    []kmsg.Header
}

type batchOpts struct {
	codec    int
	pid      int64
	epoch    int16
	seq      int32
	baseTime int64
}

// buildBatch encodes a magic-2 batch with the franz-go codec (an implementation independent of
// ours) and a correct CRC-32C.
func buildBatch(t testing.TB, recs []testRecord, o batchOpts) []byte {
	t.Helper()
	if o.pid == 0 {
		o.pid, o.epoch, o.seq = -1, -1, -1
	}
	base := o.baseTime
	if base == 0 && len(recs) > 0 {
		base = recs[0].ts
	}
	var body []byte
	maxTs := base
	for i, r := range recs {
		rec := kmsg.Record{TimestampDelta64: r.ts - base, OffsetDelta: int32(i), Key: r.key, Value: r.value, Headers: r.headers}
		rec.Length = int32(len(rec.AppendTo(nil)) - 1)
		body = rec.AppendTo(body)
		if r.ts > maxTs {
			maxTs = r.ts
		}
	}
	switch o.codec {
	case 1:
		var b bytes.Buffer
		testCodecMu.Lock()
		if testGzip == nil {
			testGzip = gzip.NewWriter(&b)
		}
		testGzip.Reset(&b)
		testGzip.Write(body)
		testGzip.Close()
		testCodecMu.Unlock()
		body = b.Bytes()
	case 2:
		body = snappy.Encode(nil, body)
	case 3:
		var b bytes.Buffer
		testCodecMu.Lock()
		if testLz4 == nil {
			testLz4 = lz4.NewWriter(&b)
			testLz4.Apply(lz4.BlockSizeOption(lz4.Block64Kb))
		}
		testLz4.Reset(&b)
		testLz4.Write(body)
		testLz4.Close()
		testCodecMu.Unlock()
		body = b.Bytes()
	case 4:
		testZstdOnce.Do(func() { testZstd, _ = zstd.NewWriter(nil) })
		body = testZstd.EncodeAll(body, nil)
	}
	b := kmsg.RecordBatch{
		Magic: 2, Attributes: int16(o.codec), LastOffsetDelta: int32(len(recs) - 1),
		FirstTimestamp: base, MaxTimestamp: maxTs, ProducerID: o.pid, ProducerEpoch: o.epoch,
		FirstSequence: o.seq, NumRecords: int32(len(recs)), Records: body,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[offBatchLength:], uint32(len(raw)-logOverhead))
	binary.BigEndian.PutUint32(raw[offCRC:], crc32.Checksum(raw[offAttributes:], castagnoli))
	return raw
}

// simpleBatch builds n records of size bytes each, timestamps from ts.
func simpleBatch(t testing.TB, n, size int, ts int64) []byte {
	recs := make([]testRecord, n)
	for i := range recs {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		recs[i] = testRecord{key: []byte{byte(i)}, value: v, ts: ts + int64(i)}
	}
	return buildBatch(t, recs, batchOpts{})
}

func quietLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetLevel(logrus.ErrorLevel)
	return l
}

// silentLogger is for tests whose injected faults the code logs as errors.
func silentLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// clock is a settable time source for tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func openTestManager(t testing.TB, dir string, cfg Config, now func() time.Time) *Manager {
	t.Helper()
	m, err := OpenManager(ManagerOptions{Dirs: []string{dir}, Default: cfg, Now: now, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("open manager: %v", err)
	}
	return m
}

// batchesOf splits a record set into its batches' headers.
func batchesOf(t testing.TB, b []byte) []BatchHeader {
	t.Helper()
	hs, err := ValidateStoredBatches(b)
	if err != nil && len(b) > 0 {
		t.Fatalf("read back invalid batches: %v", err)
	}
	return hs
}

func kmsgHeader(k, v string) kmsg.Header { return kmsg.Header{Key: k, Value: []byte(v)} }

func snappyEncode(b []byte) []byte { return snappy.Encode(nil, b) }

func newFaultyOS() *vfs.Faulty { return vfs.NewFaulty(vfs.OS) }
