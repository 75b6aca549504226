package log

import (
	"hash/maphash"
)

// offsetMap is the cleaner's key => latest offset map for the dirty section of a log, in the
// spirit of Kafka's SkimpyOffsetMap: a fixed-memory open-addressing table that stores a 128-bit
// hash of each key instead of the key, so its size is known in advance and bounded by
// log.cleaner.dedupe.buffer.size. Two keys with the same 128-bit hash would be confused; with
// seeded hashes that is as unlikely as an MD5 collision in Kafka's.
//
// Not safe for concurrent use: each cleaner goroutine owns one.
type offsetMap struct {
	slots        []mapSlot
	size         int   // keys stored
	maxSize      int   // keys the map may hold before it counts as full (slots × load factor)
	latestOffset int64 // the largest offset put, or advanced past (Kafka's latestOffset)
	seed1, seed2 maphash.Seed
}

// mapSlot is one key: its 128-bit hash and offset + 1 (0 marks an empty slot). One slot is one
// 24-byte read, so a probe costs one cache miss.
type mapSlot struct {
	h1, h2 uint64
	off    int64
}

// offsetMapEntryBytes is the memory one slot takes, the unit of the dedupe buffer.
const offsetMapEntryBytes = 24

// newOffsetMap allocates nothing yet; reset sizes the table for each cleaning.
func newOffsetMap() *offsetMap {
	return &offsetMap{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), latestOffset: -1}
}

// reset empties the map and sizes it to slots (allocating only if it grew), with loadFactor of
// them usable before the map counts as full.
func (m *offsetMap) reset(slots int, loadFactor float64) {
	if slots < 2 {
		slots = 2
	}
	if cap(m.slots) < slots {
		m.slots = make([]mapSlot, slots)
	} else {
		m.slots = m.slots[:slots]
		clear(m.slots)
	}
	m.size, m.latestOffset = 0, -1
	m.maxSize = int(float64(slots) * loadFactor)
	if m.maxSize >= slots {
		m.maxSize = slots - 1 // keep one slot empty so a probe always ends
	}
}

func (m *offsetMap) full() bool { return m.size >= m.maxSize }

func (m *offsetMap) hash(key []byte) (uint64, uint64) {
	return maphash.Bytes(m.seed1, key), maphash.Bytes(m.seed2, key)
}

// put records offset as key's latest; the caller checks full first (updating a present key
// never needs a new slot, but Kafka stops at full either way and so does the cleaner).
func (m *offsetMap) put(key []byte, offset int64) {
	a, b := m.hash(key)
	n := uint64(len(m.slots))
	for i := a % n; ; i = (i + 1) % n {
		s := &m.slots[i]
		switch {
		case s.off == 0:
			s.h1, s.h2, s.off = a, b, offset+1
			m.size++
		case s.h1 == a && s.h2 == b:
			s.off = offset + 1
		default:
			continue
		}
		if offset > m.latestOffset {
			m.latestOffset = offset
		}
		return
	}
}

// get returns key's latest offset, -1 if the key is not in the map.
func (m *offsetMap) get(key []byte) int64 {
	if len(m.slots) == 0 {
		return -1
	}
	a, b := m.hash(key)
	n := uint64(len(m.slots))
	for i := a % n; ; i = (i + 1) % n {
		s := &m.slots[i]
		switch {
		case s.off == 0:
			return -1
		case s.h1 == a && s.h2 == b:
			return s.off - 1
		}
	}
}

// advanceTo moves latestOffset forward: every offset up to it has been looked at, even where a
// batch had no keyed record (Kafka's updateLatestOffset).
func (m *offsetMap) advanceTo(offset int64) {
	if offset > m.latestOffset {
		m.latestOffset = offset
	}
}

// utilization is the fraction of the slots in use.
func (m *offsetMap) utilization() float64 {
	if len(m.slots) == 0 {
		return 0
	}
	return float64(m.size) / float64(len(m.slots))
}
