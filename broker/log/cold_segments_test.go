package log

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// openSegmentFiles counts this process's descriptors on the `.log` files of dir.
func openSegmentFiles(t *testing.T, dir string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) && strings.HasSuffix(target, logSuffix) {
			n++
		}
	}
	return n
}

// fillSegments appends batches of n records of size bytes until l has segs segments, flushes
// and waits for the rolls' background fsyncs; it returns the batches as the log stores them.
func fillSegments(t *testing.T, l *Log, segs, n, size int) [][]byte {
	t.Helper()
	var batches [][]byte
	for i := 0; l.NumSegments() < segs; i++ {
		b := simpleBatch(t, n, size, int64(1000+i))
		info, err := l.AppendAsLeader(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		setBaseOffset(b, info.FirstOffset)
		setLeaderEpoch(b, 0)
		batches = append(batches, b)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	l.bg.Wait()
	return batches
}

// TestColdSegmentsClosed: a log's open files follow its active segment and what is being read.
// Segments nothing reads for a whole sweep are closed, a read opens what it needs again and
// keeps it while its records are held, and a restarted log opens only its active segment.
// Every read returns the bytes written.
func TestColdSegmentsClosed(t *testing.T) {
	m, l := newTestLog(t, smallConfig())
	want := bytes.Join(fillSegments(t, l, 12, 4, 100), nil)
	segs, dir := l.NumSegments(), l.Dir()
	if n := openSegmentFiles(t, dir); n != segs {
		t.Fatalf("%d segment files open before a sweep, want all %d", n, segs)
	}
	l.closeIdleFiles() // the appends used them: this sweep only marks them unused
	if n := l.closeIdleFiles(); n != segs-1 {
		t.Fatalf("second sweep closed %d files, want %d (all but the active segment)", n, segs-1)
	}
	if n := openSegmentFiles(t, dir); n != 1 {
		t.Fatalf("%d segment files open after the sweeps, want 1", n)
	}
	readAll := func(l *Log) []byte {
		t.Helper()
		var got []byte
		for off := int64(0); off < l.LogEndOffset(); {
			recs, err := l.ReadRecords(off, 1<<20, -1, true)
			if err != nil {
				t.Fatal(err)
			}
			b, err := recs.AppendTo(nil)
			recs.Release()
			if err != nil || len(b) == 0 {
				t.Fatalf("read at %d: %d bytes, %v", off, len(b), err)
			}
			got = append(got, b...)
			off = recs.NextOffset
		}
		return got
	}
	recs, err := l.ReadRecords(0, 1, -1, true) // one batch of the first, cold, segment
	if err != nil || recs.Len() == 0 {
		t.Fatalf("read of a cold segment: %d bytes, %v", recs.Len(), err)
	}
	l.closeIdleFiles()
	l.closeIdleFiles()
	if n := openSegmentFiles(t, dir); n != 2 {
		t.Fatalf("%d segment files open while a read holds the first segment, want 2", n)
	}
	first, err := recs.AppendTo(nil)
	recs.Release()
	if err != nil || !bytes.Equal(first, want[:len(first)]) {
		t.Fatalf("the held records: %d bytes, %v", len(first), err)
	}
	if got := readAll(l); !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, not the %d written", len(got), len(want))
	}
	if ts, off := l.MaxTimestamp(); ts < 1000 || off < 0 {
		t.Fatalf("MaxTimestamp after the sweeps: %d at %d", ts, off)
	}
	if off, _, ok := l.OffsetForTimestamp(1000); !ok || off != 0 {
		t.Fatalf("OffsetForTimestamp(1000) = %d %v, want 0", off, ok)
	}
	// A clean restart opens the active segment only; the rest open as they are read.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := openTestManager(t, filepath.Dir(dir), smallConfig(), nil)
	defer m2.Close()
	l2 := m2.Log(TopicPartition{"t", 0})
	if l2 == nil {
		t.Fatal("the log did not come back")
	}
	if n := openSegmentFiles(t, dir); n != 1 {
		t.Fatalf("%d segment files open after a restart, want 1", n)
	}
	if got := readAll(l2); !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes after the restart, not the %d written", len(got), len(want))
	}
}

// TestColdSegmentsUnderReads: sweeps closing files while readers open them again (run under
// -race in CI); every read returns the bytes at its offset.
func TestColdSegmentsUnderReads(t *testing.T) {
	_, l := newTestLog(t, smallConfig())
	batches := fillSegments(t, l, 8, 1, 200)
	stop := make(chan struct{})
	var sweeps sync.WaitGroup
	closed := 0
	sweeps.Add(1)
	go func() {
		defer sweeps.Done()
		for {
			select {
			case <-stop:
				return
			default:
				closed += l.closeIdleFiles()
			}
		}
	}()
	var readers sync.WaitGroup
	errs := make(chan string, 4)
	for r := 0; r < 4; r++ {
		readers.Add(1)
		go func(seed int64) {
			defer readers.Done()
			rng := rand.New(rand.NewSource(seed))
			for i := 0; i < 300; i++ {
				off := rng.Intn(len(batches))
				recs, err := l.ReadRecords(int64(off), 1, -1, true)
				if err != nil {
					errs <- err.Error()
					return
				}
				b, err := recs.AppendTo(nil)
				recs.Release()
				if err != nil || !bytes.Equal(b, batches[off]) {
					errs <- fmt.Sprintf("offset %d: %d bytes that are not the batch written (%v)", off, len(b), err)
					return
				}
			}
		}(int64(r))
	}
	readers.Wait()
	close(stop)
	sweeps.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if closed == 0 {
		t.Fatal("no sweep closed a file while the readers ran: nothing was reopened")
	}
}
