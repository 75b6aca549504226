package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"

	"github.com/gregor-broker/gregor/broker/log/vfs"
)

// fsForSnapshots is the file system the snapshots are written through.
type fsForSnapshots = vfs.FS

// ErrCorruptSnapshot reports a producer snapshot that fails its CRC or framing.
var ErrCorruptSnapshot = errors.New("corrupt producer state snapshot")

// Kafka's producer snapshot file, `<20-digit offset>.snapshot`, version 1:
//
//	version int16 | crc uint32 (CRC-32C of everything after it) | entries: int32 count, then per
//	producer: producer_id int64, producer_epoch int16, last_sequence int32, last_offset int64,
//	offset_delta int32, timestamp int64, coordinator_epoch int32, current_txn_first_offset int64
//
// The CRC covers every byte after the crc field (the entry count included). Only each producer's
// last batch is recorded, so after a reload only that batch is recognised as a duplicate — Kafka
// behaves the same. An entry with last_offset -1 (Kafka writes one for a producer whose only
// entry is a transaction marker) has no batch. producer_snapshot_test.go checks these bytes
// against a fixture laid out by hand from Kafka 2.8's ProducerStateManager schemas.
const (
	snapshotVersion   = 1
	snapshotHeader    = 2 + 4
	snapshotEntrySize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8
)

type snapshotStore struct {
	fs  vfs.FS
	dir string
}

func (s *snapshotStore) path(offset int64) string {
	return filepath.Join(s.dir, segmentName(offset)+snapshotSuffix)
}

func encodeSnapshot(producers map[int64]*producerEntry) []byte {
	ids := make([]int64, 0, len(producers))
	for id, e := range producers {
		if len(e.batches) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b := make([]byte, snapshotHeader, snapshotHeader+4+len(ids)*snapshotEntrySize)
	binary.BigEndian.PutUint16(b, snapshotVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		e := producers[id]
		last := e.batches[len(e.batches)-1]
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = binary.BigEndian.AppendUint32(b, uint32(last.lastSeq))
		b = binary.BigEndian.AppendUint64(b, uint64(last.lastOffs))
		b = binary.BigEndian.AppendUint32(b, uint32(last.lastOffs-last.firstOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(last.timestamp))
		b = binary.BigEndian.AppendUint32(b, uint32(e.coordinatorEpoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.txnFirstOffset))
	}
	binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[snapshotHeader:], castagnoli))
	return b
}

// decodeSnapshot parses a snapshot file's bytes.
func decodeSnapshot(b []byte) (map[int64]*producerEntry, error) {
	if len(b) < snapshotHeader+4 {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorruptSnapshot, len(b))
	}
	if v := binary.BigEndian.Uint16(b); v != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d", ErrCorruptSnapshot, v)
	}
	if crc := crc32.Checksum(b[snapshotHeader:], castagnoli); crc != binary.BigEndian.Uint32(b[2:]) {
		return nil, fmt.Errorf("%w: crc mismatch", ErrCorruptSnapshot)
	}
	n := int64(binary.BigEndian.Uint32(b[snapshotHeader:]))
	body := b[snapshotHeader+4:]
	if n < 0 || int64(len(body)) != n*snapshotEntrySize {
		return nil, fmt.Errorf("%w: %d entries in %d bytes", ErrCorruptSnapshot, n, len(body))
	}
	out := make(map[int64]*producerEntry, n)
	for i := int64(0); i < n; i++ {
		r := body[i*snapshotEntrySize:]
		id := int64(binary.BigEndian.Uint64(r))
		epoch := int16(binary.BigEndian.Uint16(r[8:]))
		lastSeq := int32(binary.BigEndian.Uint32(r[10:]))
		lastOff := int64(binary.BigEndian.Uint64(r[14:]))
		delta := int32(binary.BigEndian.Uint32(r[22:]))
		ts := int64(binary.BigEndian.Uint64(r[26:]))
		coord := int32(binary.BigEndian.Uint32(r[34:]))
		txn := int64(binary.BigEndian.Uint64(r[38:]))
		first := int64(lastSeq) - int64(delta)
		if first < 0 && lastSeq >= 0 {
			first += 1 << 31 // the batch wrapped past MaxInt32
		}
		firstSeq := int32(first)
		e := &producerEntry{epoch: epoch, coordinatorEpoch: coord, txnFirstOffset: txn}
		// Kafka writes producers whose only entry is a transaction marker with last_offset -1;
		// like ProducerStateManager.readSnapshot, such an entry has no data batch.
		if lastOff >= 0 {
			e.batches = []batchMeta{{firstSeq: firstSeq, lastSeq: lastSeq, firstOffset: lastOff - int64(delta), lastOffs: lastOff, timestamp: ts}}
		}
		out[id] = e
	}
	return out, nil
}

func (s *snapshotStore) write(offset int64, producers map[int64]*producerEntry) error {
	if err := writeFileAtomic(s.fs, s.path(offset), encodeSnapshot(producers)); err != nil {
		return fmt.Errorf("producer snapshot at %d: %w", offset, err)
	}
	return nil
}

// offsets lists the snapshot files present, ascending.
func (s *snapshotStore) offsets() ([]int64, error) {
	entries, err := s.fs.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range entries {
		if off, ok := parseSegmentName(e.Name(), snapshotSuffix); ok {
			out = append(out, off)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// loadLatest loads the newest valid snapshot at or below maxOffset; corrupt ones are deleted and
// the next older one is tried, as Kafka does. With none it returns an empty state at offset -1.
func (s *snapshotStore) loadLatest(maxOffset int64) (map[int64]*producerEntry, int64, error) {
	offs, err := s.offsets()
	if err != nil {
		return nil, 0, err
	}
	for i := len(offs) - 1; i >= 0; i-- {
		if offs[i] > maxOffset {
			continue
		}
		data, err := readFile(s.fs, s.path(offs[i]))
		if err == nil {
			var p map[int64]*producerEntry
			if p, err = decodeSnapshot(data); err == nil {
				return p, offs[i], nil
			}
		}
		_ = s.fs.Remove(s.path(offs[i]))
	}
	return map[int64]*producerEntry{}, -1, nil
}

func (s *snapshotStore) deleteAbove(offset int64) error {
	offs, err := s.offsets()
	if err != nil {
		return err
	}
	for _, o := range offs {
		if o > offset {
			if err := s.fs.Remove(s.path(o)); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return nil
}

func (s *snapshotStore) deleteBelow(offset int64) error {
	offs, err := s.offsets()
	if err != nil {
		return err
	}
	for _, o := range offs {
		if o < offset {
			if err := s.fs.Remove(s.path(o)); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return nil
}
