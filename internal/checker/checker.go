package checker

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Header is one record header; Kafka allows repeated keys and null values.
type Header struct {
	Key   string
	Value []byte
}

// Record is one write or one record read back. Partition and Offset are -1 when unknown.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte // nil is Kafka's null key, distinct from empty
	Value     []byte // nil is a null value (a tombstone), distinct from empty
	Headers   []Header
}

// FromKgo converts a franz-go record (a produce promise's or a fetch's) into a Record.
func FromKgo(r *kgo.Record) Record {
	out := Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		out.Headers = append(out.Headers, Header{Key: h.Key, Value: h.Value})
	}
	return out
}

// Options shape a History.
type Options struct {
	// Idempotent: the producer was idempotent, so a write read back more often than it was
	// written is a failure, not just a finding.
	Idempotent bool
	// Examples is how many examples of each kind Report.String shows (default 5).
	Examples int
}

// History is what the producers saw: acknowledged writes and writes of unknown outcome. Safe
// for concurrent use.
type History struct {
	opts Options

	mu        sync.Mutex // leaf: guards everything below; held only to append
	acked     []entry
	attempted []entry
}

type digest [16]byte

// entry is a write or a read-back record as the checker keeps it: position, content hash, and
// short prefixes of key and value for messages (never the whole value).
type entry struct {
	topic     string
	partition int32
	offset    int64
	sum       digest
	seq       int // order of the Acked/Attempted call, or of the record in the read-back
	hint      string
}

// New returns an empty History.
func New(opts Options) *History {
	if opts.Examples <= 0 {
		opts.Examples = 5
	}
	return &History{opts: opts}
}

// Acked records a write the producer saw acknowledged, with the partition and offset the
// acknowledgement named (-1 where the client does not say).
func (h *History) Acked(r Record) {
	e := newEntry(r)
	h.mu.Lock()
	e.seq = len(h.acked)
	h.acked = append(h.acked, e)
	h.mu.Unlock()
}

// ackedEnds is, per partition of the topics, one past the highest offset an acknowledgement
// named: the high watermark a read-back must reach to see every acknowledged record.
func (h *History) ackedEnds(topics []string) map[tpKey]int64 {
	want := map[string]bool{}
	for _, t := range topics {
		want[t] = true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[tpKey]int64{}
	for _, e := range h.acked {
		if !want[e.topic] || e.offset < 0 {
			continue
		}
		k := tpKey{e.topic, e.partition}
		out[k] = max(out[k], e.offset+1)
	}
	return out
}

// Attempted records a write that was sent but whose outcome is unknown (the request timed out,
// the connection dropped, the broker died): it may be read back at most once, or not at all.
func (h *History) Attempted(r Record) {
	e := newEntry(r)
	h.mu.Lock()
	e.seq = len(h.attempted)
	h.attempted = append(h.attempted, e)
	h.mu.Unlock()
}

func newEntry(r Record) entry {
	return entry{topic: r.Topic, partition: r.Partition, offset: r.Offset, sum: contentSum(r), hint: hint(r)}
}

// contentSum hashes key, value and headers with lengths (-1 for null) so that no two distinct
// contents share an encoding.
func contentSum(r Record) digest {
	h := sha256.New()
	var buf [8]byte
	bytesField := func(b []byte) {
		n := int64(len(b))
		if b == nil {
			n = -1
		}
		binary.BigEndian.PutUint64(buf[:], uint64(n))
		h.Write(buf[:])
		h.Write(b)
	}
	bytesField(r.Key)
	bytesField(r.Value)
	binary.BigEndian.PutUint64(buf[:], uint64(len(r.Headers)))
	h.Write(buf[:])
	for _, hd := range r.Headers {
		bytesField([]byte(hd.Key))
		bytesField(hd.Value)
	}
	var d digest
	copy(d[:], h.Sum(nil))
	return d
}

const hintBytes = 24

func hint(r Record) string {
	short := func(b []byte) string {
		if b == nil {
			return "null"
		}
		if len(b) > hintBytes {
			return strconv.Quote(string(b[:hintBytes])) + fmt.Sprintf("…(%d B)", len(b))
		}
		return strconv.Quote(string(b))
	}
	s := "key " + short(r.Key) + " value " + short(r.Value)
	if len(r.Headers) > 0 {
		s += fmt.Sprintf(" +%d headers", len(r.Headers))
	}
	return s
}

// Kind names a class of finding.
type Kind string

// The kinds of finding, in the order Report.String lists them.
const (
	Lost         Kind = "lost"
	Duplicated   Kind = "duplicated"
	Reordered    Kind = "reordered"
	Moved        Kind = "moved"
	Corrupted    Kind = "corrupted"
	OffsetReused Kind = "offset-reused"
	Unexpected   Kind = "unexpected"
)

// Kinds lists every kind in report order.
var Kinds = []Kind{Lost, Duplicated, Reordered, Moved, Corrupted, OffsetReused, Unexpected}

// Finding is one anomaly. Partition/Offset are where the write was acknowledged (or, for
// findings about read-back records, where it was read); ReadPartition/ReadOffset where it was
// read, -1 when it was not.
type Finding struct {
	Kind          Kind
	Topic         string
	Partition     int32
	Offset        int64
	ReadPartition int32
	ReadOffset    int64
	Record        string // key/value prefixes of the write concerned
	Detail        string
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s %s", f.Kind, tpo(f.Topic, f.Partition, f.Offset))
	if f.ReadOffset >= 0 && (f.ReadPartition != f.Partition || f.ReadOffset != f.Offset) {
		s += " read at " + tpo(f.Topic, f.ReadPartition, f.ReadOffset)
	}
	s += ": " + f.Record
	if f.Detail != "" {
		s += " (" + f.Detail + ")"
	}
	return s
}

func tpo(topic string, p int32, off int64) string {
	ps, os := strconv.Itoa(int(p)), strconv.FormatInt(off, 10)
	if p < 0 {
		ps = "?"
	}
	if off < 0 {
		os = "?"
	}
	return topic + "-" + ps + "@" + os
}

// Report is the outcome of Check.
type Report struct {
	Idempotent bool
	Acked      int // acknowledged writes in the history
	Attempted  int // writes of unknown outcome in the history
	Read       int // records read back
	Findings   map[Kind][]Finding
	examples   int
}

// Count is the number of findings of kind k.
func (r *Report) Count(k Kind) int { return len(r.Findings[k]) }

// failing reports whether findings of kind k fail the check.
func (r *Report) failing(k Kind) bool { return k != Duplicated || r.Idempotent }

// Err is nil when nothing failed, else an error whose message is String().
func (r *Report) Err() error {
	for _, k := range Kinds {
		if r.Count(k) > 0 && r.failing(k) {
			return errors.New(r.String())
		}
	}
	return nil
}

// String summarises counts and shows the first few examples of each kind.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "checker: %d acked, %d attempted, %d read back", r.Acked, r.Attempted, r.Read)
	for _, k := range Kinds {
		if n := r.Count(k); n > 0 {
			fmt.Fprintf(&b, "; %d %s", n, k)
			if !r.failing(k) {
				b.WriteString(" (allowed: producer not idempotent)")
			}
		}
	}
	for _, k := range Kinds {
		fs := r.Findings[k]
		for i, f := range fs {
			if i == r.examples {
				fmt.Fprintf(&b, "\n  … %d more %s", len(fs)-i, k)
				break
			}
			b.WriteString("\n  " + f.String())
		}
	}
	return b.String()
}

type tpKey struct {
	topic     string
	partition int32
}

type offKey struct {
	tpKey
	offset int64
}

type contentKey struct {
	topic string
	sum   digest
}

// Check compares the history with what was read back (normally ReadAll's result, every
// partition of the topics from the log start). Call it once every write has been recorded.
func (h *History) Check(readBack []Record) *Report {
	h.mu.Lock()
	acked := append([]entry(nil), h.acked...)
	attempted := append([]entry(nil), h.attempted...)
	h.mu.Unlock()

	rep := &Report{Idempotent: h.opts.Idempotent, Acked: len(acked), Attempted: len(attempted),
		Read: len(readBack), Findings: map[Kind][]Finding{}, examples: h.opts.Examples}
	add := func(f Finding) { rep.Findings[f.Kind] = append(rep.Findings[f.Kind], f) }

	// The read-back, in (topic, partition, offset) order. One record per offset: a second
	// record at an offset already read is the broker (or consumer) serving an offset twice.
	reads := make([]entry, 0, len(readBack))
	for _, r := range readBack {
		reads = append(reads, newEntry(r))
	}
	sort.SliceStable(reads, func(i, j int) bool {
		a, b := reads[i], reads[j]
		if a.topic != b.topic {
			return a.topic < b.topic
		}
		if a.partition != b.partition {
			return a.partition < b.partition
		}
		return a.offset < b.offset
	})
	readAt := map[offKey]int{}
	used := make([]bool, len(reads))
	byContent := map[contentKey][]int{}
	for i, r := range reads {
		k := offKey{tpKey{r.topic, r.partition}, r.offset}
		if j, dup := readAt[k]; dup {
			used[i] = true // analysed once, through the first record at the offset
			kind, detail := Duplicated, "the same offset was read back twice"
			if reads[j].sum != r.sum {
				kind, detail = OffsetReused, "read back twice with different data: "+reads[j].hint
			}
			add(Finding{Kind: kind, Topic: r.topic, Partition: r.partition, Offset: r.offset,
				ReadPartition: r.partition, ReadOffset: r.offset, Record: r.hint, Detail: detail})
			continue
		}
		readAt[k] = i
		ck := contentKey{r.topic, r.sum}
		byContent[ck] = append(byContent[ck], i)
	}

	// Every content the test wrote, acknowledged or not.
	written := map[contentKey]bool{}
	ackedOffset := map[contentKey]int64{} // where the broker said a content went
	for _, e := range acked {
		written[contentKey{e.topic, e.sum}] = true
		ackedOffset[contentKey{e.topic, e.sum}] = e.offset
	}
	for _, e := range attempted {
		written[contentKey{e.topic, e.sum}] = true
	}

	// Offsets the broker acknowledged more than once for different data. A repeated Acked call
	// for the same write at the same offset is the test's doing and is ignored.
	ackedAt := map[offKey]int{}
	reused := map[offKey]bool{}
	keep := acked[:0]
	for _, e := range acked {
		if e.partition < 0 || e.offset < 0 {
			keep = append(keep, e)
			continue
		}
		k := offKey{tpKey{e.topic, e.partition}, e.offset}
		if j, ok := ackedAt[k]; ok {
			if acked[j].sum == e.sum {
				rep.Acked--
				continue
			}
			reused[k] = true
		} else {
			ackedAt[k] = len(keep)
		}
		keep = append(keep, e)
	}
	acked = keep

	// Match acknowledged writes to reads: first each write found exactly where it was
	// acknowledged, then the rest by content, earliest read first.
	match := make([]int, len(acked))
	for i := range match {
		match[i] = -1
	}
	for i, e := range acked {
		if e.partition < 0 || e.offset < 0 {
			continue
		}
		if j, ok := readAt[offKey{tpKey{e.topic, e.partition}, e.offset}]; ok && !used[j] && reads[j].sum == e.sum {
			match[i], used[j] = j, true
		}
	}
	take := func(e entry) int {
		for _, j := range byContent[contentKey{e.topic, e.sum}] {
			if !used[j] && (e.partition < 0 || reads[j].partition == e.partition) {
				used[j] = true
				return j
			}
		}
		return -1
	}
	for i, e := range acked {
		if match[i] < 0 {
			match[i] = take(e)
		}
	}
	for _, e := range attempted {
		take(e) // found at most once; missing is fine
	}

	// The fate of each acknowledged write.
	reusedReported, corruptReported := map[offKey]bool{}, map[offKey]bool{}
	for i, e := range acked {
		f := Finding{Topic: e.topic, Partition: e.partition, Offset: e.offset, ReadPartition: -1, ReadOffset: -1, Record: e.hint}
		known := e.partition >= 0 && e.offset >= 0
		k := offKey{tpKey{e.topic, e.partition}, e.offset}
		if j := match[i]; j >= 0 {
			f.ReadPartition, f.ReadOffset = reads[j].partition, reads[j].offset
			if known && (reads[j].partition != e.partition || reads[j].offset != e.offset) {
				f.Kind, f.Detail = Moved, "an acknowledged offset never changes"
				add(f)
			}
			continue
		}
		j, there := -1, false
		if known {
			j, there = readAt[k]
		}
		switch {
		case there && !written[contentKey{e.topic, reads[j].sum}]:
			f.Kind, f.Detail = Corrupted, "the offset holds "+reads[j].hint+", which was never written"
			corruptReported[k] = true
		case there:
			f.Kind, f.Detail = OffsetReused, "the offset now holds another write: "+reads[j].hint
			reusedReported[k] = true
		case known && reused[k]:
			f.Kind, f.Detail = OffsetReused, "the offset was acknowledged for different data too, and holds nothing"
			reusedReported[k] = true
		default:
			f.Kind = Lost
			if known {
				f.Detail = "nothing at that offset"
			}
		}
		add(f)
	}
	// Offsets acknowledged twice whose losers all surfaced elsewhere still name the bug.
	for _, k := range sortedKeys(reused) {
		if !reusedReported[k] {
			e := acked[ackedAt[k]]
			add(Finding{Kind: OffsetReused, Topic: k.topic, Partition: k.partition, Offset: k.offset,
				ReadPartition: -1, ReadOffset: -1, Record: e.hint, Detail: "acknowledged for two different writes"})
		}
	}

	// Reads nobody accounted for: extra copies of a write, or data nobody wrote.
	for j, r := range reads {
		if used[j] {
			continue
		}
		f := Finding{Topic: r.topic, Partition: r.partition, Offset: r.offset, ReadPartition: r.partition, ReadOffset: r.offset, Record: r.hint}
		k := offKey{tpKey{r.topic, r.partition}, r.offset}
		ai, atAcked := ackedAt[k]
		switch {
		case written[contentKey{r.topic, r.sum}]:
			f.Kind, f.Detail = Duplicated, "read back more often than written"
			if off, ok := ackedOffset[contentKey{r.topic, r.sum}]; ok {
				// Which copy came first tells a retry the broker failed to recognise (the
				// acknowledged copy is the later one) from a producer that wrote again.
				f.Detail += fmt.Sprintf("; the acknowledged copy is at offset %d", off)
			}
		case corruptReported[k]:
			continue // reported above as the acknowledged write's corruption
		case atAcked: // the acknowledged write surfaced elsewhere (moved); its offset is garbage
			f.Kind, f.Record = Corrupted, acked[ai].hint
			f.Detail = "the offset holds " + r.hint + ", which was never written"
		default:
			f.Kind, f.Detail = Unexpected, "no write of the test has this content"
		}
		add(f)
	}

	// Order within each partition: acknowledged writes must be read back in the order they
	// were acknowledged — by acknowledged offset, or by Acked call order where offsets are
	// unknown.
	type placed struct {
		e    entry
		read int64
	}
	byPart := map[tpKey][]placed{}
	for i, e := range acked {
		if j := match[i]; j >= 0 {
			k := tpKey{e.topic, reads[j].partition}
			byPart[k] = append(byPart[k], placed{e, reads[j].offset})
		}
	}
	for _, k := range sortedTPs(byPart) {
		ps := byPart[k]
		allKnown := true
		for _, p := range ps {
			allKnown = allKnown && p.e.offset >= 0
		}
		sort.SliceStable(ps, func(a, b int) bool {
			if allKnown {
				return ps[a].e.offset < ps[b].e.offset
			}
			return ps[a].e.seq < ps[b].e.seq
		})
		// The fewest records that, set aside, leave the rest in order: those outside a longest
		// increasing run of read offsets.
		readOffs := make([]int64, len(ps))
		for i, p := range ps {
			readOffs[i] = p.read
		}
		inOrder := longestIncreasing(readOffs)
		for i, p := range ps {
			if inOrder[i] {
				continue
			}
			detail := "read out of acknowledged order"
			if i > 0 {
				detail = fmt.Sprintf("acknowledged after %s (read at %d)", ps[i-1].e.hint, ps[i-1].read)
			}
			add(Finding{Kind: Reordered, Topic: p.e.topic, Partition: p.e.partition, Offset: p.e.offset,
				ReadPartition: k.partition, ReadOffset: p.read, Record: p.e.hint, Detail: detail})
		}
	}
	return rep
}

func sortedKeys(m map[offKey]bool) []offKey {
	ks := make([]offKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		a, b := ks[i], ks[j]
		if a.topic != b.topic {
			return a.topic < b.topic
		}
		if a.partition != b.partition {
			return a.partition < b.partition
		}
		return a.offset < b.offset
	})
	return ks
}

func sortedTPs[V any](m map[tpKey]V) []tpKey {
	ks := make([]tpKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].topic != ks[j].topic {
			return ks[i].topic < ks[j].topic
		}
		return ks[i].partition < ks[j].partition
	})
	return ks
}

// longestIncreasing marks the members of one longest strictly increasing subsequence of xs
// (patience sorting, O(n log n)).
func longestIncreasing(xs []int64) []bool {
	tails := []int{}             // tails[l]: index of the smallest tail of a run of length l+1
	prev := make([]int, len(xs)) // predecessor of xs[i] in its run
	for i, x := range xs {
		l := sort.Search(len(tails), func(j int) bool { return xs[tails[j]] >= x })
		prev[i] = -1
		if l > 0 {
			prev[i] = tails[l-1]
		}
		if l == len(tails) {
			tails = append(tails, i)
		} else {
			tails[l] = i
		}
	}
	in := make([]bool, len(xs))
	if len(tails) > 0 {
		for i := tails[len(tails)-1]; i >= 0; i = prev[i] {
			in[i] = true
		}
	}
	return in
}
