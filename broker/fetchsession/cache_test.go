package fetchsession

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/replica"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newCache(slots, maxParts int) (*Cache, *clock) {
	clk := &clock{t: time.Unix(1000, 0)}
	return New(Options{Slots: slots, MaxPartitions: maxParts, EvictAfter: time.Minute, Now: clk.now}), clk
}

func fp(topic string, p int32, off int64) replica.FetchPartition {
	return replica.FetchPartition{TP: klog.TopicPartition{Topic: topic, Partition: p}, Offset: off,
		MaxBytes: 1 << 20, CurrentLeaderEpoch: -1, LastFetchedEpoch: -1}
}

func ptr(c Context) *Context { return &c }

func tp(topic string, p int32) klog.TopicPartition {
	return klog.TopicPartition{Topic: topic, Partition: p}
}

// quiet answers every partition with hw as high watermark, log start 0, no records.
func quiet(n int, hw int64) []Answer {
	a := make([]Answer, n)
	for i := range a {
		a[i] = Answer{HighWatermark: hw}
	}
	return a
}

// open opens a session over parts and returns its id.
func open(t *testing.T, c *Cache, follower bool, parts ...replica.FetchPartition) int32 {
	t.Helper()
	ctx := c.NewContext(Request{Epoch: InitialEpoch, Partitions: parts, Follower: follower})
	id, code, keep := c.Finish(&ctx, quiet(len(parts), 10))
	if code != 0 || keep != nil {
		t.Fatalf("full fetch: error %d, keep %v", code, keep)
	}
	return id
}

func names(ps []replica.FetchPartition) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.TP.String())
	}
	return out
}

func TestFullFetches(t *testing.T) {
	c, _ := newCache(10, 100)
	parts := []replica.FetchPartition{fp("a", 0, 5), fp("a", 1, 7)}

	ctx := c.NewContext(Request{Epoch: FinalEpoch, Partitions: parts})
	if id, code, keep := c.Finish(&ctx, quiet(2, 10)); id != NoSession || code != 0 || keep != nil {
		t.Fatalf("epoch -1: session %d, error %d, keep %v; want a sessionless answer of everything", id, code, keep)
	}
	if !reflect.DeepEqual(ctx.Partitions, parts) {
		t.Fatalf("a full fetch reads its own partitions: %v", names(ctx.Partitions))
	}
	id := open(t, c, false, parts...)
	if id <= 0 {
		t.Fatalf("epoch 0 opened no session: id %d", id)
	}
	if s := c.Stats(); s.Sessions != 1 || s.Partitions != 2 {
		t.Fatalf("stats %+v, want 1 session of 2 partitions", s)
	}
	// A full fetch that names a session closes it (and opens another).
	ctx = c.NewContext(Request{SessionID: id, Epoch: InitialEpoch, Partitions: parts})
	id2, _, _ := c.Finish(&ctx, quiet(2, 10))
	if id2 == id || c.Stats().Sessions != 1 {
		t.Fatalf("second full fetch: id %d (first %d), %d sessions", id2, id, c.Stats().Sessions)
	}
	ctx = c.NewContext(Request{SessionID: id2, Epoch: FinalEpoch, Partitions: parts})
	c.Finish(&ctx, quiet(2, 10))
	if s := c.Stats(); s.Sessions != 0 || s.Partitions != 0 {
		t.Fatalf("epoch -1 naming the session left %+v", s)
	}
	// No partitions: no session, whose slot would stay empty.
	ctx = c.NewContext(Request{Epoch: InitialEpoch})
	if id, _, _ := c.Finish(&ctx, nil); id != NoSession {
		t.Fatalf("empty full fetch opened session %d", id)
	}
}

func TestSessionErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		slots int
		id    func(real int32) int32
		epoch int32
		want  int16
	}{
		{"unknown id", 10, func(r int32) int32 { return r + 1 }, 1, kerr.FetchSessionIDNotFound.Code},
		{"epoch behind", 10, func(r int32) int32 { return r }, 2, kerr.InvalidFetchSessionEpoch.Code},
		{"epoch ahead", 10, func(r int32) int32 { return r }, 0x7fff, kerr.InvalidFetchSessionEpoch.Code},
		{"no sessions kept", 0, func(r int32) int32 { return 12345 }, 1, kerr.FetchSessionIDNotFound.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newCache(tc.slots, 100)
			real := int32(0)
			if tc.slots > 0 {
				real = open(t, c, false, fp("a", 0, 0))
				// Epoch 1 is used once: the session expects 2 after it.
				c.Finish(ptr(c.NewContext(Request{SessionID: real, Epoch: 1})), quiet(1, 10))
				if tc.epoch == 2 {
					tc.epoch = 1
				}
			} else if id := open(t, c, false, fp("a", 0, 0)); id != NoSession {
				t.Fatalf("slots 0 opened session %d", id)
			}
			ctx := c.NewContext(Request{SessionID: tc.id(real), Epoch: tc.epoch})
			id, code, keep := c.Finish(&ctx, nil)
			if ctx.ErrorCode != tc.want || code != tc.want || id != NoSession || len(ctx.Partitions) != 0 || len(keep) != 0 {
				t.Fatalf("context error %d, finish %d %d %v; want error %d and nothing fetched", ctx.ErrorCode, id, code, keep, tc.want)
			}
		})
	}
}

func TestIncrementalAnswers(t *testing.T) {
	c, _ := newCache(10, 100)
	id := open(t, c, false, fp("a", 0, 5), fp("a", 1, 7), fp("b", 0, 9))
	epoch := int32(1)
	step := func(r Request, answers func([]replica.FetchPartition) []Answer) ([]replica.FetchPartition, []bool) {
		t.Helper()
		r.SessionID, r.Epoch = id, epoch
		ctx := c.NewContext(r)
		if ctx.ErrorCode != 0 {
			t.Fatalf("epoch %d: error %d", epoch, ctx.ErrorCode)
		}
		got, code, keep := c.Finish(&ctx, answers(ctx.Partitions))
		if got != id || code != 0 {
			t.Fatalf("epoch %d: session %d error %d", epoch, got, code)
		}
		epoch++
		return ctx.Partitions, keep
	}
	same := func(ps []replica.FetchPartition) []Answer { return quiet(len(ps), 10) }

	// Nothing named, nothing changed: every partition is read at its cached offset, none sent.
	ps, keep := step(Request{}, same)
	if want := []int64{5, 7, 9}; ps[0].Offset != want[0] || ps[1].Offset != want[1] || ps[2].Offset != want[2] {
		t.Fatalf("offsets %v", ps)
	}
	if !reflect.DeepEqual(keep, []bool{false, false, false}) {
		t.Fatalf("unchanged partitions sent: %v", keep)
	}
	// A changed offset is taken; records, a new high watermark, a new log start, an error and an
	// Always answer are each sent; what was sent moves to the back, in its order.
	ps, keep = step(Request{Partitions: []replica.FetchPartition{fp("a", 1, 70)}}, func(ps []replica.FetchPartition) []Answer {
		if ps[1].Offset != 70 {
			t.Fatalf("a-1 read at %d, want the request's 70", ps[1].Offset)
		}
		a := same(ps)
		a[1].Records = true
		return a
	})
	if !reflect.DeepEqual(keep, []bool{false, true, false}) {
		t.Fatalf("records: keep %v", keep)
	}
	ps, keep = step(Request{}, func(ps []replica.FetchPartition) []Answer {
		if got := names(ps); !reflect.DeepEqual(got, []string{"a-0", "b-0", "a-1"}) {
			t.Fatalf("order after a-1 answered: %v", got)
		}
		a := same(ps)
		a[0].HighWatermark = 11 // a-0
		a[1].LogStartOffset = 3 // b-0
		return a
	})
	if !reflect.DeepEqual(keep, []bool{true, true, false}) {
		t.Fatalf("moved high watermark / log start: keep %v", keep)
	}
	// The new values are what the fetcher knows now: the same again is not sent.
	_, keep = step(Request{}, func(ps []replica.FetchPartition) []Answer {
		if got := names(ps); !reflect.DeepEqual(got, []string{"a-1", "a-0", "b-0"}) {
			t.Fatalf("order: %v", got)
		}
		return []Answer{{HighWatermark: 10}, {HighWatermark: 11}, {HighWatermark: 10, LogStartOffset: 3}}
	})
	if !reflect.DeepEqual(keep, []bool{false, false, false}) {
		t.Fatalf("repeated values sent again: %v", keep)
	}
	// An error is sent every time, and once it clears the partition is sent again even with the
	// high watermark it had before.
	known := map[string]Answer{"a-1": {HighWatermark: 10}, "a-0": {HighWatermark: 11}, "b-0": {HighWatermark: 10, LogStartOffset: 3}}
	byName := func(override map[string]Answer) func([]replica.FetchPartition) []Answer {
		return func(ps []replica.FetchPartition) []Answer {
			a := make([]Answer, len(ps))
			for i, p := range ps {
				var ok bool
				if a[i], ok = override[p.TP.String()]; !ok {
					a[i] = known[p.TP.String()]
				}
			}
			return a
		}
	}
	failing := map[string]Answer{"a-0": {HighWatermark: -1, LogStartOffset: -1, ErrorCode: 6}}
	for range 2 {
		ps, keep = step(Request{}, byName(failing))
		for i, p := range ps {
			if keep[i] != (p.TP.String() == "a-0") {
				t.Fatalf("error: %v keep %v", names(ps), keep)
			}
		}
	}
	ps, keep = step(Request{}, byName(nil))
	if got := names(ps); !reflect.DeepEqual(got, []string{"a-1", "b-0", "a-0"}) || !reflect.DeepEqual(keep, []bool{false, false, true}) {
		t.Fatalf("after the error cleared: %v keep %v", got, keep)
	}
	ps, keep = step(Request{}, byName(map[string]Answer{"a-1": {HighWatermark: 10, Always: true}}))
	if got := names(ps); !reflect.DeepEqual(got, []string{"a-1", "b-0", "a-0"}) || !reflect.DeepEqual(keep, []bool{true, false, false}) {
		t.Fatalf("Always: %v keep %v", got, keep)
	}
	// Added partitions join at the back; forgotten ones leave.
	ps, _ = step(Request{Partitions: []replica.FetchPartition{fp("c", 0, 1)}, Forgotten: []klog.TopicPartition{tp("a", 0), tp("zz", 9)}}, same)
	if got := names(ps); !reflect.DeepEqual(got, []string{"b-0", "a-1", "c-0"}) {
		t.Fatalf("after adding c-0 and forgetting a-0: %v", got)
	}
	if s := c.Stats(); s.Partitions != 3 {
		t.Fatalf("stats %+v", s)
	}
	// Forgetting everything closes the session; that request is answered sessionless.
	ctx := c.NewContext(Request{SessionID: id, Epoch: epoch, Forgotten: []klog.TopicPartition{tp("a", 1), tp("b", 0), tp("c", 0)}})
	if got, code, keep := c.Finish(&ctx, nil); got != NoSession || code != 0 || keep != nil {
		t.Fatalf("emptied session: id %d error %d keep %v", got, code, keep)
	}
	if s := c.Stats(); s.Sessions != 0 || s.Partitions != 0 {
		t.Fatalf("stats %+v after the session emptied", s)
	}
}

// TestDuplicateRequest: two requests on one epoch (a client that does not wait for answers):
// the second is refused at once, and a request whose epoch was taken over meanwhile is answered
// INVALID_FETCH_SESSION_EPOCH with nothing sent.
func TestDuplicateRequest(t *testing.T) {
	c, _ := newCache(10, 100)
	id := open(t, c, false, fp("a", 0, 0))
	first := c.NewContext(Request{SessionID: id, Epoch: 1})
	if dup := c.NewContext(Request{SessionID: id, Epoch: 1}); dup.ErrorCode != kerr.InvalidFetchSessionEpoch.Code {
		t.Fatalf("duplicate epoch: error %d", dup.ErrorCode)
	}
	next := c.NewContext(Request{SessionID: id, Epoch: 2})
	if got, code, keep := c.Finish(&first, []Answer{{HighWatermark: 99, Records: true}}); got != id || code != kerr.InvalidFetchSessionEpoch.Code || keep[0] {
		t.Fatalf("overtaken request: id %d error %d keep %v", got, code, keep)
	}
	if _, code, keep := c.Finish(&next, []Answer{{HighWatermark: 99}}); code != 0 || !keep[0] {
		t.Fatalf("the later request: error %d keep %v", code, keep)
	}
}

func TestEviction(t *testing.T) {
	c, clk := newCache(2, 100)
	a := open(t, c, false, fp("a", 0, 0))
	b := open(t, c, false, fp("b", 0, 0), fp("b", 1, 0))
	// Full, and both sessions are new: a consumer's session takes no slot.
	if id := open(t, c, false, fp("c", 0, 0), fp("c", 1, 0), fp("c", 2, 0)); id != NoSession {
		t.Fatalf("a new consumer session evicted a new one: %d", id)
	}
	// A follower's session outranks a consumer's at once: the smallest consumer session goes.
	f := open(t, c, true, fp("f", 0, 0))
	if f == NoSession || c.sessions[a] != nil || c.sessions[b] == nil {
		t.Fatalf("follower session %d; sessions %v", f, c.sessions)
	}
	// Two minutes on, b is used, f is not: f is stale and goes first.
	clk.t = clk.t.Add(90 * time.Second)
	c.Finish(ptr(c.NewContext(Request{SessionID: b, Epoch: 1})), quiet(2, 10))
	clk.t = clk.t.Add(30 * time.Second)
	d := open(t, c, false, fp("d", 0, 0))
	if d == NoSession || c.sessions[f] != nil || c.sessions[b] == nil {
		t.Fatalf("stale eviction: new %d; sessions %v", d, c.sessions)
	}
	// b is old now but in use: a bigger consumer session may take its slot, a smaller may not.
	clk.t = clk.t.Add(30 * time.Second)
	c.Finish(ptr(c.NewContext(Request{SessionID: b, Epoch: 2})), quiet(2, 10))
	c.Finish(ptr(c.NewContext(Request{SessionID: d, Epoch: 1})), quiet(1, 10))
	if id := open(t, c, false, fp("e", 0, 0)); id != NoSession {
		t.Fatalf("a one-partition session evicted one of the same size or larger: %d", id)
	}
	e := open(t, c, false, fp("e", 0, 0), fp("e", 1, 0), fp("e", 2, 0))
	if e == NoSession || c.sessions[b] != nil || c.sessions[d] == nil {
		t.Fatalf("size eviction: new %d; sessions %v", e, c.sessions)
	}
	if s := c.Stats(); s.Sessions != 2 || s.Evictions != 3 || s.Partitions != 4 {
		t.Fatalf("stats %+v, want 2 sessions, 3 evictions, 4 partitions", s)
	}
}

func TestPartitionCap(t *testing.T) {
	c, _ := newCache(10, 3)
	if id := open(t, c, false, fp("a", 0, 0), fp("a", 1, 0), fp("a", 2, 0), fp("a", 3, 0)); id != NoSession {
		t.Fatalf("a session over the cap: %d", id)
	}
	id := open(t, c, false, fp("a", 0, 0), fp("a", 1, 0))
	ctx := c.NewContext(Request{SessionID: id, Epoch: 1, Partitions: []replica.FetchPartition{fp("a", 2, 0)}})
	if ctx.ErrorCode != 0 || len(ctx.Partitions) != 3 {
		t.Fatalf("growing to the cap: error %d, %v", ctx.ErrorCode, names(ctx.Partitions))
	}
	c.Finish(&ctx, quiet(3, 10))
	ctx = c.NewContext(Request{SessionID: id, Epoch: 2, Partitions: []replica.FetchPartition{fp("a", 3, 0)}})
	if ctx.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("past the cap: error %d", ctx.ErrorCode)
	}
	if s := c.Stats(); s.Sessions != 0 || s.Partitions != 0 {
		t.Fatalf("stats %+v after the session past the cap went", s)
	}
}

func TestNextEpoch(t *testing.T) {
	for _, tc := range [][2]int32{{0, 1}, {1, 2}, {math.MaxInt32 - 1, math.MaxInt32}, {math.MaxInt32, 1}, {-1, -1}, {-7, -1}} {
		if got := nextEpoch(tc[0]); got != tc[1] {
			t.Errorf("nextEpoch(%d) = %d, want %d", tc[0], got, tc[1])
		}
	}
}
