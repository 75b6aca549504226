package log

import (
	"errors"
	"fmt"
	"strings"
)

// Idempotent-producer errors (Kafka: OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH,
// DUPLICATE_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID).
var (
	ErrOutOfOrderSequence   = errors.New("out of order sequence number")
	ErrInvalidProducerEpoch = errors.New("producer epoch is older than the current one")
	ErrDuplicateSequence    = errors.New("duplicate sequence number")
	ErrUnknownProducerID    = errors.New("unknown producer id")
)

// producerBatchesKept is how many of a producer's latest batches are remembered for duplicate
// detection; Kafka keeps 5 (max.in.flight.requests.per.connection for idempotence).
const producerBatchesKept = 5

// batchMeta is what the log remembers about one of a producer's recent batches.
type batchMeta struct {
	firstSeq, lastSeq     int32
	firstOffset, lastOffs int64
	timestamp             int64
}

// producerEntry is one producer id's state in this partition.
type producerEntry struct {
	epoch            int16
	batches          []batchMeta // oldest first, at most producerBatchesKept
	coordinatorEpoch int32
	txnFirstOffset   int64
}

func (e *producerEntry) lastSeq() int32 {
	if len(e.batches) == 0 {
		return -1
	}
	return e.batches[len(e.batches)-1].lastSeq
}

func (e *producerEntry) lastTimestamp() int64 {
	if len(e.batches) == 0 {
		return -1
	}
	return e.batches[len(e.batches)-1].timestamp
}

func (e *producerEntry) duplicateOf(h BatchHeader) *batchMeta {
	if h.ProducerEpoch != e.epoch {
		return nil
	}
	for i := range e.batches {
		b := &e.batches[i]
		if b.firstSeq == h.BaseSequence && b.lastSeq == h.LastSequence() {
			return b
		}
	}
	return nil
}

// recent lists the kept batches' sequence ranges and offsets, for error messages.
func (e *producerEntry) recent() string {
	if e == nil {
		return "none"
	}
	var b strings.Builder
	for i, m := range e.batches {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d..%d@%d", m.firstSeq, m.lastSeq, m.firstOffset)
	}
	return b.String()
}

func (e *producerEntry) add(b batchMeta) {
	if len(e.batches) == producerBatchesKept {
		copy(e.batches, e.batches[1:])
		e.batches = e.batches[:producerBatchesKept-1]
	}
	e.batches = append(e.batches, b)
}

// producerTracker is a partition's idempotent-producer state, Kafka's ProducerStateManager. It has
// no lock of its own: the owning Log's mutex guards it.
type producerTracker struct {
	snapshots *snapshotStore
	producers map[int64]*producerEntry
}

func newProducerTracker(fs fsForSnapshots, dir string) *producerTracker {
	return &producerTracker{snapshots: &snapshotStore{fs: fs, dir: dir}, producers: map[int64]*producerEntry{}}
}

// inSequence: the next sequence follows last, wrapping from MaxInt32 to 0.
func inSequence(last, next int32) bool {
	return next == last+1 || (last == 1<<31-1 && next == 0)
}

// check validates every idempotent batch of an append against the committed state plus the
// batches before it in the same append, following Kafka 3.x's ProducerAppendInfo rules:
//   - a batch equal to one of the producer's last five (same epoch, first and last sequence) is a
//     duplicate: the whole append is answered with that batch's original offsets;
//   - an older epoch is fenced (INVALID_PRODUCER_EPOCH);
//   - a new epoch must start at sequence 0, unless the producer is unknown here;
//   - within an epoch the first sequence must follow the last one; an unknown producer (no
//     state, e.g. after retention removed its batches) may start anywhere.
func (t *producerTracker) check(hdrs []BatchHeader) (*batchMeta, error) {
	pending := map[int64]struct {
		epoch int16
		last  int32
		known bool
	}{}
	for i, h := range hdrs {
		if h.ProducerID < 0 {
			continue
		}
		e := t.producers[h.ProducerID]
		if e != nil {
			if d := e.duplicateOf(h); d != nil {
				dup := *d
				return &dup, nil
			}
		}
		p, seen := pending[h.ProducerID]
		if !seen {
			if e != nil {
				p.epoch, p.last, p.known = e.epoch, e.lastSeq(), true
			} else {
				p.epoch, p.last = -1, -1
			}
		}
		switch {
		case p.known && h.ProducerEpoch < p.epoch:
			return nil, &BatchError{Index: i, Err: fmt.Errorf("%w: producer %d epoch %d, current %d",
				ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, p.epoch)}
		case h.ProducerEpoch != p.epoch:
			if h.BaseSequence != 0 && p.known {
				return nil, &BatchError{Index: i, Err: fmt.Errorf("%w: producer %d new epoch %d starts at sequence %d",
					ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence)}
			}
		default:
			if p.known && p.last >= 0 && !inSequence(p.last, h.BaseSequence) {
				// The batches kept for duplicate detection are named: a refused retry of a batch
				// that is in the log says which of its sequences the log has.
				return nil, &BatchError{Index: i, Err: fmt.Errorf("%w: producer %d epoch %d: sequence %d..%d after %d (recent batches %s)",
					ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence, h.LastSequence(), p.last, e.recent())}
			}
		}
		p.epoch, p.last, p.known = h.ProducerEpoch, h.LastSequence(), true
		pending[h.ProducerID] = p
	}
	return nil, nil
}

// update applies a batch that is now in the log (after check, or replayed during recovery).
func (t *producerTracker) update(h BatchHeader) {
	if h.ProducerID < 0 {
		return
	}
	e := t.producers[h.ProducerID]
	if e == nil {
		e = &producerEntry{epoch: h.ProducerEpoch, coordinatorEpoch: -1, txnFirstOffset: -1}
		t.producers[h.ProducerID] = e
	}
	if h.ProducerEpoch != e.epoch {
		e.epoch, e.batches = h.ProducerEpoch, e.batches[:0]
	}
	e.add(metaOf(h))
}

// metaOf is what the producer state keeps of a batch in the log.
func metaOf(h BatchHeader) batchMeta {
	return batchMeta{firstSeq: h.BaseSequence, lastSeq: h.LastSequence(), firstOffset: h.BaseOffset,
		lastOffs: h.LastOffset(), timestamp: h.MaxTimestamp}
}

// removeExpired forgets producers whose last write is older than the expiration.
func (t *producerTracker) removeExpired(nowMs, expirationMs int64) {
	for id, e := range t.producers {
		if ts := e.lastTimestamp(); ts >= 0 && nowMs-ts >= expirationMs {
			delete(t.producers, id)
		}
	}
}

// snapshot writes the state as of offset (every batch below offset is included).
func (t *producerTracker) snapshot(offset int64) error {
	return t.snapshots.write(offset, t.producers)
}

// truncateAndLoad resets the state to the newest snapshot at or below offset, deleting newer
// snapshots; the caller replays batches from the returned offset.
func (t *producerTracker) truncateAndLoad(offset int64) (int64, error) {
	if err := t.snapshots.deleteAbove(offset); err != nil {
		return 0, err
	}
	producers, at, err := t.snapshots.loadLatest(offset)
	if err != nil {
		return 0, err
	}
	t.producers = producers
	return at, nil
}
