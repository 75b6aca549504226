package fetchsession

import (
	"container/list"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/replica"
)

// Session epochs and ids with a meaning of their own (Kafka's FetchMetadata).
const (
	InitialEpoch = 0  // a full fetch that asks for a session
	FinalEpoch   = -1 // a full fetch without one (or closing one)
	NoSession    = 0  // the session id of "no session"
)

// nextEpoch is the epoch that follows e, wrapping past the largest back to 1 (0 opens a session).
func nextEpoch(e int32) int32 {
	switch {
	case e < 0:
		return FinalEpoch
	case e == math.MaxInt32:
		return 1
	}
	return e + 1
}

// Defaults: Kafka's fixed MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS (the slots are
// max.incremental.fetch.session.cache.slots, config).
const (
	DefaultEvictAfter = 2 * time.Minute
	// DefaultMaxPartitions bounds the partitions all sessions cache together (~100 MiB): a
	// session's partitions grow with each incremental request that names new ones, and no
	// sequence of requests may make the broker allocate without bound.
	DefaultMaxPartitions = 1 << 20
)

// Options configures a Cache; zero fields but Slots take the defaults.
type Options struct {
	Slots         int           // sessions held at most; 0: none (every fetch is sessionless)
	EvictAfter    time.Duration // how long a session is safe from eviction after creation or use
	MaxPartitions int           // partitions cached over all sessions at most
	Now           func() time.Time
}

// Cache holds the fetch sessions of one broker. Create it with New.
type Cache struct {
	o Options

	mu         sync.Mutex // guards everything below (a leaf: docs/locking.md)
	sessions   map[int32]*session
	partitions int    // cached over all sessions
	evictions  uint64 // sessions evicted to make room (Kafka's IncrementalFetchSessionEvictionsPerSec)
}

// New returns an empty cache.
func New(o Options) *Cache {
	if o.EvictAfter <= 0 {
		o.EvictAfter = DefaultEvictAfter
	}
	if o.MaxPartitions <= 0 {
		o.MaxPartitions = DefaultMaxPartitions
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Cache{o: o, sessions: map[int32]*session{}}
}

// session is one fetcher's session. Its fields are guarded by Cache.mu.
type session struct {
	id         int32
	privileged bool  // opened by a follower: outranks consumers' sessions for a slot
	epoch      int32 // the epoch the next request must carry
	created    time.Time
	used       time.Time
	order      *list.List // of *cached, in fetch order; answered partitions move to the back
	byTP       map[klog.TopicPartition]*list.Element
}

// cached is one partition of a session: the fetch parameters last sent for it, and the high
// watermark and log start offset its fetcher was last told (-1: nothing yet, or an error since).
type cached struct {
	fetch         replica.FetchPartition
	highWatermark int64
	logStart      int64
}

type kind uint8

const (
	sessionless kind = iota // a full fetch answered without a session
	full                    // a full fetch that may open one
	incremental             // a fetch within a session
	failed                  // a session error: answered with no partitions
)

// Request is the session part of a Fetch request.
type Request struct {
	SessionID int32
	Epoch     int32
	// Partitions are the request's partitions, in request order: all of them for a full fetch,
	// the added and changed ones for an incremental fetch.
	Partitions []replica.FetchPartition
	Forgotten  []klog.TopicPartition // incremental only: partitions to drop from the session
	Follower   bool                  // a follower's fetch (ReplicaId >= 0): a privileged session
}

// Context is one Fetch request's place in its session, from NewContext to Finish (a value: a
// fetch allocates none).
type Context struct {
	// ErrorCode, when not 0, is the response's top-level error (FETCH_SESSION_ID_NOT_FOUND,
	// INVALID_FETCH_SESSION_EPOCH): answer it with no partitions and session id 0.
	ErrorCode int16
	// Partitions are what to fetch, in response order: a full fetch's own, or every partition of
	// the session with its cached parameters updated by the request.
	Partitions []replica.FetchPartition

	kind     kind
	follower bool // a full fetch's: the session it opens is privileged
	session  *session
	epoch    int32 // the session's epoch after this request: Finish expects to find it unchanged
}

// Answer is what one fetched partition's response says, as far as a session cares.
type Answer struct {
	HighWatermark  int64
	LogStartOffset int64
	ErrorCode      int16
	Records        bool // the response carries record bytes
	// Always is set for an answer that must reach the fetcher whatever it was told before: a
	// preferred read replica, a diverging epoch.
	Always bool
}

// Tracked reports whether Finish reads the answers: a full fetch that may open a session, or an
// incremental one. A sessionless or failed fetch needs none.
func (ctx *Context) Tracked() bool { return ctx.kind == full || ctx.kind == incremental }

// NewContext resolves a request against the cache, as Kafka's FetchManager.newContext does: a
// full fetch closes the session it names, and opens a new one at Finish unless its epoch is
// FinalEpoch; an incremental fetch must name a live session at its expected epoch, and updates
// it (adds and changes partitions, forgets others); a session left with no partitions is closed
// and the request answered without one.
func (c *Cache) NewContext(r Request) Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Epoch == InitialEpoch || r.Epoch == FinalEpoch {
		if r.SessionID != NoSession {
			if s := c.sessions[r.SessionID]; s != nil {
				c.removeLocked(s)
			}
		}
		k := full
		if r.Epoch == FinalEpoch || c.o.Slots <= 0 {
			k = sessionless
		}
		return Context{kind: k, follower: r.Follower, Partitions: r.Partitions}
	}
	s := c.sessions[r.SessionID]
	switch {
	case s == nil:
		return Context{kind: failed, ErrorCode: kerr.FetchSessionIDNotFound.Code}
	case s.epoch != r.Epoch:
		return Context{kind: failed, ErrorCode: kerr.InvalidFetchSessionEpoch.Code}
	}
	for _, p := range r.Partitions {
		if e := s.byTP[p.TP]; e != nil {
			e.Value.(*cached).fetch = p
			continue
		}
		if c.partitions >= c.o.MaxPartitions {
			// Past the cap the session goes: the fetcher starts over with a full fetch, which
			// is answered sessionless while the cache stays full.
			c.removeLocked(s)
			return Context{kind: failed, ErrorCode: kerr.FetchSessionIDNotFound.Code}
		}
		s.byTP[p.TP] = s.order.PushBack(&cached{fetch: p, highWatermark: -1, logStart: -1})
		c.partitions++
	}
	for _, tp := range r.Forgotten {
		if e := s.byTP[tp]; e != nil {
			s.order.Remove(e)
			delete(s.byTP, tp)
			c.partitions--
		}
	}
	if s.order.Len() == 0 {
		c.removeLocked(s)
		return Context{kind: sessionless, Partitions: r.Partitions}
	}
	s.used = c.o.Now()
	s.epoch = nextEpoch(s.epoch)
	parts := make([]replica.FetchPartition, 0, s.order.Len())
	for e := s.order.Front(); e != nil; e = e.Next() {
		parts = append(parts, e.Value.(*cached).fetch)
	}
	return Context{kind: incremental, Partitions: parts, session: s, epoch: s.epoch}
}

// Finish takes the answers to ctx.Partitions (same order) and returns the response's session id
// and top-level error, and which answers to send (keep nil: all of them). A full fetch opens its
// session here, if the cache has or can make room. An incremental fetch keeps the answers with
// something new — records, a high watermark or log start offset unlike the one last sent, an
// error, an Always answer — records what they said, and moves their partitions to the back of
// the session, so the next fetches serve the others first (Kafka's fairness rule); if another
// request moved the session's epoch on meanwhile, the answer is INVALID_FETCH_SESSION_EPOCH with
// nothing kept.
func (c *Cache) Finish(ctx *Context, answers []Answer) (sessionID int32, errorCode int16, keep []bool) {
	switch ctx.kind {
	case failed:
		return NoSession, ctx.ErrorCode, make([]bool, len(answers))
	case sessionless:
		return NoSession, 0, nil
	case full:
		return c.open(ctx, answers), 0, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := ctx.session
	if s.epoch != ctx.epoch {
		return s.id, kerr.InvalidFetchSessionEpoch.Code, make([]bool, len(answers))
	}
	keep = make([]bool, len(answers))
	var moved []*list.Element
	for i, a := range answers {
		e := s.byTP[ctx.Partitions[i].TP]
		if e == nil { // the session was closed meanwhile: nothing to compare with
			keep[i] = true
			continue
		}
		cp := e.Value.(*cached)
		send := a.Records || a.Always || a.ErrorCode != 0
		if cp.highWatermark != a.HighWatermark || cp.logStart != a.LogStartOffset {
			send = true
			cp.highWatermark, cp.logStart = a.HighWatermark, a.LogStartOffset
		}
		if a.ErrorCode != 0 {
			cp.highWatermark = -1 // sent again once the error is gone
		}
		if send {
			keep[i] = true
			moved = append(moved, e)
		}
	}
	for _, e := range moved {
		s.order.MoveToBack(e)
	}
	return s.id, 0, keep
}

// open makes a session of a full fetch's partitions, if there is a slot for it.
func (c *Cache) open(ctx *Context, answers []Answer) int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.o.Now()
	n := len(ctx.Partitions)
	if n == 0 || c.partitions+n > c.o.MaxPartitions {
		// An empty session would only hold a slot: the fetcher's next full fetch opens one.
		return NoSession
	}
	if len(c.sessions) >= c.o.Slots && !c.evictLocked(ctx.follower, n, now) {
		return NoSession
	}
	s := &session{id: c.newIDLocked(), privileged: ctx.follower, epoch: nextEpoch(InitialEpoch),
		created: now, used: now, order: list.New(), byTP: make(map[klog.TopicPartition]*list.Element, n)}
	for i, p := range ctx.Partitions {
		cp := &cached{fetch: p, highWatermark: -1, logStart: -1}
		if i < len(answers) && answers[i].ErrorCode == 0 {
			cp.highWatermark, cp.logStart = answers[i].HighWatermark, answers[i].LogStartOffset
		}
		if e := s.byTP[p.TP]; e != nil { // named twice: the last one counts, as in Kafka's map
			e.Value = cp
			continue
		}
		s.byTP[p.TP] = s.order.PushBack(cp)
	}
	c.sessions[s.id] = s
	c.partitions += s.order.Len()
	return s.id
}

// evictLocked makes room for a new session of n partitions, as Kafka's FetchSessionCache.tryEvict
// does: the least recently used session goes if it has been unused for EvictAfter; otherwise the
// least valuable evictable session — consumers' before followers', then the smallest — goes if
// the new one is worth more (privileged over not, then more partitions). A session is evictable
// that way only once it is EvictAfter old; a consumer's session is evictable by a follower's at
// once. Linear in the sessions, which happens only while the cache is full.
func (c *Cache) evictLocked(privileged bool, n int, now time.Time) bool {
	var lru, cand *session
	for _, s := range c.sessions {
		if lru == nil || s.used.Before(lru.used) || s.used.Equal(lru.used) && s.id < lru.id {
			lru = s
		}
		old := now.Sub(s.created) > c.o.EvictAfter
		if !old && (!privileged || s.privileged) {
			continue
		}
		if cand == nil || lessValuable(s, cand) {
			cand = s
		}
	}
	if lru != nil && now.Sub(lru.used) > c.o.EvictAfter {
		c.removeLocked(lru)
		c.evictions++
		return true
	}
	if cand == nil || !worthMore(privileged, n, cand) {
		return false
	}
	c.removeLocked(cand)
	c.evictions++
	return true
}

// lessValuable orders sessions as Kafka's EvictableKey: (privileged, size, id).
func lessValuable(a, b *session) bool {
	if a.privileged != b.privileged {
		return !a.privileged
	}
	if a.order.Len() != b.order.Len() {
		return a.order.Len() < b.order.Len()
	}
	return a.id < b.id
}

// worthMore: may a new session (privileged, n partitions) take the place of s?
func worthMore(privileged bool, n int, s *session) bool {
	if privileged != s.privileged {
		return privileged
	}
	return n > s.order.Len()
}

func (c *Cache) removeLocked(s *session) {
	if c.sessions[s.id] != s {
		return
	}
	delete(c.sessions, s.id)
	c.partitions -= s.order.Len()
}

// newIDLocked is a random positive id no live session has: unguessable, as Kafka's, since a
// session is found by its id alone.
func (c *Cache) newIDLocked() int32 {
	for {
		id := rand.Int32N(math.MaxInt32-1) + 1
		if c.sessions[id] == nil {
			return id
		}
	}
}

// Stats is the cache's state for /metrics (Kafka's FetchSessionCache MBeans).
type Stats struct {
	Sessions   int    // NumIncrementalFetchSessions
	Partitions int    // NumIncrementalFetchPartitionsCached
	Evictions  uint64 // IncrementalFetchSessionEvictionsPerSec, as a count
}

// Stats reads the cache's counts.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Sessions: len(c.sessions), Partitions: c.partitions, Evictions: c.evictions}
}
