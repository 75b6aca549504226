package log

import (
	"bytes"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"
)

// TestCleanerConcurrentReaders: the cleaner goroutine (started by Manager.Start) compacts a log
// while a writer appends to it and readers scan it from the start, as consumers of a compacted
// topic do. Every scan must see a consistent log: offsets increasing, every record exactly as
// appended at its offset, and — Kafka's guarantee for a consumer that reads to the end — every
// key's latest record below where the scan ended. Run with -race.
func TestCleanerConcurrentReaders(t *testing.T) {
	cfg := compactConfig()
	dir := t.TempDir()
	m, err := OpenManager(ManagerOptions{Dirs: []string{dir}, Default: cfg, Logger: quietLogger(),
		Cleaner: CleanerConfig{Enable: true, Threads: 1, Backoff: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tp := TopicPartition{"concurrent", 0}
	l, err := m.GetOrCreateLog(tp, cfg, [16]byte{})
	if err != nil {
		t.Fatal(err)
	}
	m.Start()

	var mu sync.Mutex // guards appended
	appended := map[int64]testRecord{}
	const keys, total, checkEvery = 30, 6000, 1000

	writerDone := make(chan struct{})
	errc := make(chan error, 8)
	go func() { // the writer; stops after total records
		defer close(writerDone)
		rng := rand.New(rand.NewSource(21))
		lastCleaned := int64(-1)
		for n := 0; n < total; {
			var recs []testRecord
			for i := 0; i < 5; i++ {
				k := fmt.Sprintf("key-%02d", rng.Intn(keys))
				var v []byte
				if rng.Intn(20) > 0 {
					v = []byte(fmt.Sprintf("%s#%d%s", k, n, bytes.Repeat([]byte{'x'}, rng.Intn(100))))
				}
				recs = append(recs, testRecord{key: []byte(k), value: v, ts: time.Now().UnixMilli()})
				n++
			}
			info, err := l.AppendAsLeader(buildBatch(t, recs, batchOpts{codec: n % 5}), 1)
			if err != nil {
				errc <- err
				return
			}
			mu.Lock()
			for i, r := range recs {
				appended[info.FirstOffset+int64(i)] = r
			}
			mu.Unlock()
			l.SetHighWatermark(info.LastOffset + 1)
			if n%checkEvery == 0 {
				// Let the cleaner get through a round before writing more, so cleaning and
				// reading overlap many times (a bounded wait on a condition, not a sleep).
				deadline := time.Now().Add(30 * time.Second)
				for {
					cp, _ := m.cleaner.checkpoint(dir, tp)
					if cp > lastCleaned {
						lastCleaned = cp
						break
					}
					if time.Now().After(deadline) {
						errc <- fmt.Errorf("the cleaner made no progress past %d within 30s", lastCleaned)
						return
					}
					time.Sleep(time.Millisecond) // polling the condition above, with its deadline
				}
			}
		}
	}()

	var scans sync.WaitGroup
	var scanCount [3]int
	for r := 0; r < 3; r++ {
		scans.Add(1)
		go func(r int) {
			defer scans.Done()
			for {
				select {
				case <-writerDone:
					return
				default:
				}
				if err := scanOnce(l, &mu, appended, int32(2000+r*7000)); err != nil {
					errc <- fmt.Errorf("reader %d scan %d: %w", r, scanCount[r], err)
					return
				}
				scanCount[r]++
			}
		}(r)
	}
	<-writerDone
	scans.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	cp, _ := m.cleaner.checkpoint(dir, tp)
	if cp <= 0 {
		t.Fatal("the cleaner never cleaned")
	}
	if err := scanOnce(l, &mu, appended, 1<<20); err != nil {
		t.Fatalf("final scan: %v", err)
	}
	t.Logf("scans %v; cleaned to %d of %d; %d bytes in %d segments", scanCount, cp, l.LogEndOffset(), l.Size(), l.NumSegments())
}

// scanOnce reads the log from its start to its high watermark, maxBytes per read, and checks it.
func scanOnce(l *Log, mu *sync.Mutex, appended map[int64]testRecord, maxBytes int32) error {
	seen := map[string]int64{}
	next, last, end := l.LogStartOffset(), int64(-1), int64(-1)
	for {
		hw := l.HighWatermark()
		b, err := l.Read(next, maxBytes, hw, true)
		if err != nil {
			return err
		}
		if len(b) == 0 {
			if l.HighWatermark() != hw {
				// The log moved on during the read, and the cleaner may have compacted what lay
				// below the old high watermark into records above it: an empty read is not the
				// end (a consumer's next fetch would see the new high watermark).
				continue
			}
			end = hw
			break
		}
		for pos := 0; pos < len(b); {
			h, recs, err := DecodeRecords(b[pos:])
			if err != nil {
				return fmt.Errorf("batch at %d: %w", next, err)
			}
			if h.BaseOffset < next && pos > 0 {
				return fmt.Errorf("batch at %d after offset %d", h.BaseOffset, next)
			}
			for _, r := range recs {
				if r.Offset <= last {
					return fmt.Errorf("offset %d after %d", r.Offset, last)
				}
				last = r.Offset
				mu.Lock()
				want, ok := appended[r.Offset]
				mu.Unlock()
				if !ok || !bytes.Equal(r.Key, want.key) || !bytes.Equal(r.Value, want.value) || (r.Value == nil) != (want.value == nil) || r.Timestamp != want.ts {
					return fmt.Errorf("record %d is %q=%q, appended %q=%q (found %v)", r.Offset, r.Key, r.Value, want.key, want.value, ok)
				}
				seen[string(r.Key)] = r.Offset
			}
			pos += h.Size()
			next = h.LastOffset() + 1
		}
	}
	// The scan reached the high watermark it last read with: every key's latest record below it
	// was seen (tombstones included: delete.retention.ms has not passed here).
	mu.Lock()
	defer mu.Unlock()
	latest := map[string]int64{}
	for off, r := range appended {
		if prev, ok := latest[string(r.key)]; off < end && (!ok || off > prev) {
			latest[string(r.key)] = off
		}
	}
	for k, off := range latest {
		if got, ok := seen[k]; !ok || got != off {
			return fmt.Errorf("key %s: scan to the high watermark %d saw its last record at %d (%v), latest is %d", k, end, got, ok, off)
		}
	}
	return nil
}
