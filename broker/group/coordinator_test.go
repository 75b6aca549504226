package group

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	klog "github.com/gregor-broker/gregor/broker/log"
)

func TestPartitionFor(t *testing.T) {
	// Java's String.hashCode values, including a code point outside the BMP (a surrogate pair)
	// and the string whose hash is Integer.MIN_VALUE, which Kafka's Utils.abs maps to 0.
	tests := []struct {
		group      string
		hash       int32
		partitions int32
		want       int32
	}{
		{"", 0, 50, 0},
		{"a", 97, 50, 47},
		{"hello", 99162322, 50, 22},
		{"Aa", 2112, 50, 12},
		{"BB", 2112, 50, 12},
		{"é", 233, 50, 33},
		{"😀", 1772899, 50, 49},
		{"polygenelubricants", -1 << 31, 50, 0},
		{"my-group", -1906497762, 50, 12},
	}
	for _, tt := range tests {
		if got := javaStringHashCode(tt.group); got != tt.hash {
			t.Errorf("hashCode(%q) = %d, want %d", tt.group, got, tt.hash)
		}
		if got := PartitionFor(tt.group, tt.partitions); got != tt.want {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d", tt.group, tt.partitions, got, tt.want)
		}
	}
}

func TestTransitions(t *testing.T) {
	// Kafka's GroupMetadata valid previous states, written out as the allowed edges.
	allowed := map[[2]State]bool{
		{PreparingRebalance, Empty}: true, {Stable, PreparingRebalance}: true,
		{CompletingRebalance, PreparingRebalance}: true, {Empty, PreparingRebalance}: true,
		{PreparingRebalance, CompletingRebalance}: true, {CompletingRebalance, Stable}: true,
		{Stable, Dead}: true, {PreparingRebalance, Dead}: true, {CompletingRebalance, Dead}: true,
		{Empty, Dead}: true, {Dead, Dead}: true,
	}
	for from := Empty; from <= Dead; from++ {
		for to := Empty; to <= Dead; to++ {
			if got := canTransition(from, to); got != allowed[[2]State{from, to}] {
				t.Errorf("%s → %s: %v", from, to, got)
			}
		}
	}
	for s := Empty; s <= Dead; s++ {
		if p, ok := ParseState(s.String()); !ok || p != s {
			t.Errorf("ParseState(%q) = %v, %v", s, p, ok)
		}
	}
}

func TestJoinValidation(t *testing.T) {
	h := newHarness(t, testConfig())
	h.stableGroup("g", "a")
	tests := []struct {
		name string
		req  JoinRequest
		want error
	}{
		{"empty group id", JoinRequest{GroupID: ""}, ErrInvalidGroupID},
		{"session timeout below min", JoinRequest{GroupID: "x", SessionTimeoutMs: 999}, ErrInvalidSessionTimeout},
		{"session timeout above max", JoinRequest{GroupID: "x", SessionTimeoutMs: 1800001}, ErrInvalidSessionTimeout},
		{"member id of a group that does not exist", JoinRequest{GroupID: "x", MemberID: "m-1"}, ErrUnknownMemberID},
		{"unknown member id", JoinRequest{GroupID: "g", MemberID: "m-1"}, ErrUnknownMemberID},
		{"other protocol type", JoinRequest{GroupID: "g", ProtocolType: "connect"}, ErrInconsistentGroupProtocol},
		{"no common protocol", JoinRequest{GroupID: "g", Protocols: []Protocol{{Name: "roundrobin"}}}, ErrInconsistentGroupProtocol},
		{"no protocols for an empty group", JoinRequest{GroupID: "y", Protocols: []Protocol{}}, ErrInconsistentGroupProtocol},
	}
	for _, tt := range tests {
		r := recv(t, h.join(tt.req))
		if !errors.Is(r.Err, tt.want) || r.GenerationID != -1 {
			t.Errorf("%s: %+v, want %v", tt.name, r, tt.want)
		}
	}
	// A partition this broker does not lead, and one still loading.
	p := PartitionFor("g", testPartitions)
	h.c.OnResignation(p, -1)
	if r := recv(t, h.join(JoinRequest{GroupID: "g"})); !errors.Is(r.Err, ErrNotCoordinator) {
		t.Errorf("resigned partition: %v", r.Err)
	}
	h.c.mu.Lock()
	h.c.partitions[p] = &partitionStatus{loading: true}
	h.c.mu.Unlock()
	if r := recv(t, h.join(JoinRequest{GroupID: "g"})); !errors.Is(r.Err, ErrCoordinatorLoadInProgress) {
		t.Errorf("loading partition: %v", r.Err)
	}
	if err := h.c.Heartbeat(HeartbeatRequest{GroupID: "g", MemberID: "m"}); err != nil {
		t.Errorf("heartbeat while loading answers NONE, got %v", err)
	}
	if r := recv(t, h.sync(SyncRequest{GroupID: "g", MemberID: "m"})); !errors.Is(r.Err, ErrRebalanceInProgress) {
		t.Errorf("sync while loading answers REBALANCE_IN_PROGRESS, got %v", r.Err)
	}
}

func TestMemberIDRequiredAndInitialDelay(t *testing.T) {
	h := newHarness(t, testConfig())
	// KIP-394: a v4+ join without member id gets one with MEMBER_ID_REQUIRED, no rebalance yet.
	r := recv(t, h.join(JoinRequest{GroupID: "g", ClientID: "c1", RequireKnownMemberID: true}))
	if !errors.Is(r.Err, ErrMemberIDRequired) || !strings.HasPrefix(r.MemberID, "c1-") || len(r.MemberID) != len("c1-")+36 {
		t.Fatalf("first join: %+v", r)
	}
	if s := h.state("g"); s != Empty {
		t.Fatalf("state after MEMBER_ID_REQUIRED: %s", s)
	}
	a := h.join(JoinRequest{GroupID: "g", MemberID: r.MemberID, ClientID: "c1", RequireKnownMemberID: true})
	if s := h.state("g"); s != PreparingRebalance {
		t.Fatalf("state after rejoin: %s", s)
	}
	// A second member arrives during the initial delay: the delay is extended once.
	h.clock.Advance(1000 * time.Millisecond)
	b := h.join(JoinRequest{GroupID: "g", ClientID: "c2"})
	h.clock.Advance(2000 * time.Millisecond) // 3000ms: first delay over, extended by a new member
	pending(t, a, "join during the extended delay")
	pending(t, b, "join during the extended delay")
	h.clock.Advance(3000 * time.Millisecond)
	ra, rb := recv(t, a), recv(t, b)
	if ra.Err != nil || rb.Err != nil || ra.GenerationID != 1 || rb.GenerationID != 1 {
		t.Fatalf("joins: %+v / %+v", ra, rb)
	}
	if ra.LeaderID != ra.MemberID || rb.LeaderID != ra.MemberID || len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("leader and member lists: %+v / %+v", ra, rb)
	}
	if *ra.ProtocolName != "range" || *ra.ProtocolType != "consumer" {
		t.Fatalf("protocol: %v %v", *ra.ProtocolType, *ra.ProtocolName)
	}
	if s := h.state("g"); s != CompletingRebalance {
		t.Fatalf("state: %s", s)
	}
}

func TestInitialDelayBoundedByRebalanceTimeout(t *testing.T) {
	h := newHarness(t, testConfig())
	// Rebalance timeout 7000ms, delay 3000ms: 3000 + 3000 + 1000 however many members keep
	// arriving (Kafka's InitialDelayedJoin).
	first := h.join(JoinRequest{GroupID: "g", RebalanceTimeoutMs: 7000})
	for i := 0; i < 6; i++ {
		h.join(JoinRequest{GroupID: "g", RebalanceTimeoutMs: 7000, ClientID: fmt.Sprint("c", i)})
		h.clock.Advance(999 * time.Millisecond)
	}
	pending(t, first, "join before 7000ms")
	h.clock.Advance(7000*time.Millisecond - 6*999*time.Millisecond - time.Millisecond)
	pending(t, first, "join at 6999ms")
	h.clock.Advance(time.Millisecond)
	if r := recv(t, first); r.Err != nil || len(r.Members) != 7 {
		t.Fatalf("join: %+v", r)
	}
}

func TestSyncAndHeartbeat(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("g", "a", "b")
	if s := h.state("g"); s != Stable {
		t.Fatalf("state: %s", s)
	}
	tests := []struct {
		name string
		req  HeartbeatRequest
		want error
	}{
		{"member of the generation", HeartbeatRequest{GroupID: "g", MemberID: ids["a"], GenerationID: gen}, nil},
		{"unknown member", HeartbeatRequest{GroupID: "g", MemberID: "nobody", GenerationID: gen}, ErrUnknownMemberID},
		{"old generation", HeartbeatRequest{GroupID: "g", MemberID: ids["b"], GenerationID: gen - 1}, ErrIllegalGeneration},
		{"unknown group", HeartbeatRequest{GroupID: "none", MemberID: ids["a"], GenerationID: gen}, ErrUnknownMemberID},
		{"empty group id", HeartbeatRequest{GroupID: "", MemberID: ids["a"], GenerationID: gen}, ErrInvalidGroupID},
	}
	for _, tt := range tests {
		if err := h.c.Heartbeat(tt.req); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	// SyncGroup in a stable group answers the stored assignment at once; with a wrong
	// generation ILLEGAL_GENERATION.
	if r := recv(t, h.sync(SyncRequest{GroupID: "g", MemberID: ids["b"], GenerationID: gen})); r.Err != nil || string(r.Assignment) != "b" {
		t.Errorf("sync in stable group: %+v", r)
	}
	if r := recv(t, h.sync(SyncRequest{GroupID: "g", MemberID: ids["b"], GenerationID: gen + 1})); !errors.Is(r.Err, ErrIllegalGeneration) {
		t.Errorf("sync with a future generation: %+v", r)
	}
	other := "sticky"
	if r := recv(t, h.sync(SyncRequest{GroupID: "g", MemberID: ids["b"], GenerationID: gen, ProtocolName: &other})); !errors.Is(r.Err, ErrInconsistentGroupProtocol) {
		t.Errorf("sync with another protocol name: %+v", r)
	}
	// A follower rejoining unchanged is told the current generation without a rebalance.
	r := recv(t, h.join(JoinRequest{GroupID: "g", MemberID: ids["b"]}))
	if r.Err != nil || r.GenerationID != gen || h.state("g") != Stable {
		t.Fatalf("follower rejoin: %+v, state %s", r, h.state("g"))
	}
	// The leader rejoining starts a rebalance: heartbeats answer REBALANCE_IN_PROGRESS.
	la := h.join(JoinRequest{GroupID: "g", MemberID: ids["a"]})
	if s := h.state("g"); s != PreparingRebalance {
		t.Fatalf("state after leader rejoin: %s", s)
	}
	if err := h.c.Heartbeat(HeartbeatRequest{GroupID: "g", MemberID: ids["b"], GenerationID: gen}); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("heartbeat while preparing: %v", err)
	}
	lb := h.join(JoinRequest{GroupID: "g", MemberID: ids["b"]})
	ra, rb := recv(t, la), recv(t, lb)
	if ra.GenerationID != gen+1 || rb.GenerationID != gen+1 {
		t.Fatalf("rejoins: %+v / %+v", ra, rb)
	}
}

func TestSessionTimeoutRemovesMember(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("g", "a", "b")
	// a heartbeats every 4s, b never: after b's 10s session the group rebalances without it.
	for i := 0; i < 2; i++ {
		h.clock.Advance(4 * time.Second)
		if err := h.c.Heartbeat(HeartbeatRequest{GroupID: "g", MemberID: ids["a"], GenerationID: gen}); err != nil {
			t.Fatalf("heartbeat %d: %v", i, err)
		}
	}
	h.clock.Advance(2 * time.Second)
	if s := h.state("g"); s != PreparingRebalance {
		t.Fatalf("state after b's session ran out: %s", s)
	}
	if err := h.c.Heartbeat(HeartbeatRequest{GroupID: "g", MemberID: ids["b"], GenerationID: gen}); !errors.Is(err, ErrUnknownMemberID) {
		t.Fatalf("expired member's heartbeat: %v", err)
	}
	r := recv(t, h.join(JoinRequest{GroupID: "g", MemberID: ids["a"]}))
	if r.Err != nil || r.GenerationID != gen+1 || len(r.Members) != 1 || r.Members[0].MemberID != ids["a"] {
		t.Fatalf("rejoin: %+v", r)
	}
	// The commit of the expired member's old generation is refused.
	errs := commit(h, CommitRequest{GroupID: "g", MemberID: ids["a"], GenerationID: gen,
		Offsets: []CommitOffset{{TP: tp("t", 0), Offset: Offset{Offset: 5, LeaderEpoch: -1, ExpireTimestamp: -1}}}})
	if !errors.Is(errs[0], ErrIllegalGeneration) {
		t.Fatalf("commit with the old generation: %v", errs[0])
	}
}

func TestRebalanceTimeoutRemovesMembersThatDoNotRejoin(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("g", "a", "b", "c")
	a := h.join(JoinRequest{GroupID: "g", MemberID: ids["a"]})
	b := h.join(JoinRequest{GroupID: "g", MemberID: ids["b"]})
	// c stays alive (its heartbeats answer REBALANCE_IN_PROGRESS) but does not rejoin.
	for i := 0; i < 3; i++ {
		h.clock.Advance(5 * time.Second)
		if err := h.c.Heartbeat(HeartbeatRequest{GroupID: "g", MemberID: ids["c"], GenerationID: gen}); !errors.Is(err, ErrRebalanceInProgress) {
			t.Fatalf("heartbeat of c: %v", err)
		}
	}
	h.clock.Advance(4999 * time.Millisecond)
	pending(t, a, "join before the rebalance timeout")
	h.clock.Advance(time.Millisecond)
	ra, rb := recv(t, a), recv(t, b)
	if ra.GenerationID != gen+1 || rb.GenerationID != gen+1 || len(ra.Members) != 2 {
		t.Fatalf("after the rebalance timeout: %+v / %+v", ra, rb)
	}
	if r := recv(t, h.join(JoinRequest{GroupID: "g", MemberID: ids["c"]})); !errors.Is(r.Err, ErrUnknownMemberID) {
		t.Fatalf("removed member's join: %+v", r)
	}
}

func TestLeaveGroup(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("g", "a", "b")
	errs, err := h.c.LeaveGroup("g", []LeaveMember{{MemberID: ids["b"]}, {MemberID: "nobody"}})
	if err != nil || errs[0] != nil || !errors.Is(errs[1], ErrUnknownMemberID) {
		t.Fatalf("leave: %v %v", err, errs)
	}
	if s := h.state("g"); s != PreparingRebalance {
		t.Fatalf("state after a member left: %s", s)
	}
	r := recv(t, h.join(JoinRequest{GroupID: "g", MemberID: ids["a"]}))
	if r.GenerationID != gen+1 || len(r.Members) != 1 {
		t.Fatalf("rejoin: %+v", r)
	}
	// The last member leaving empties the group and its metadata says so.
	if errs, err := h.c.LeaveGroup("g", []LeaveMember{{MemberID: ids["a"]}}); err != nil || errs[0] != nil {
		t.Fatalf("leave: %v %v", err, errs)
	}
	if s := h.state("g"); s != Empty { // nobody left to wait for: the rebalance completes at once
		t.Fatalf("state: %s", s)
	}
	var emptied bool
	h.restart()
	if s := h.state("g"); s != Empty {
		t.Fatalf("state after reload: %s", s)
	}
	for _, rec := range h.records(PartitionFor("g", testPartitions)) {
		if rec.GroupKey != nil && rec.Group != nil && rec.Group.Generation == gen+2 && len(rec.Group.Members) == 0 && rec.Group.Protocol == nil {
			emptied = true
		}
	}
	if !emptied {
		t.Fatal("no group metadata record of the empty generation")
	}
	if _, err := h.c.LeaveGroup("", nil); !errors.Is(err, ErrInvalidGroupID) {
		t.Fatalf("leave with empty group id: %v", err)
	}
}

func TestStaticMemberRestartWithoutRebalance(t *testing.T) {
	h := newHarness(t, testConfig())
	ia, ib := "instance-a", "instance-b"
	a := h.join(JoinRequest{GroupID: "g", ClientID: "a", InstanceID: &ia, RequireKnownMemberID: true})
	b := h.join(JoinRequest{GroupID: "g", ClientID: "b", InstanceID: &ib, RequireKnownMemberID: true})
	h.clock.Advance(6 * time.Second)
	ra, rb := recv(t, a), recv(t, b)
	if ra.Err != nil || rb.Err != nil || !strings.HasPrefix(ra.MemberID, "instance-a-") {
		t.Fatalf("static joins (no MEMBER_ID_REQUIRED for static members): %+v / %+v", ra, rb)
	}
	gen := ra.GenerationID
	leader := ra.LeaderID
	ids := map[string]string{"a": ra.MemberID, "b": rb.MemberID}
	assign := map[string][]byte{ids["a"]: []byte("pa"), ids["b"]: []byte("pb")}
	sa := h.sync(SyncRequest{GroupID: "g", MemberID: ids["a"], GenerationID: gen, Assignments: assign})
	sb := h.sync(SyncRequest{GroupID: "g", MemberID: ids["b"], GenerationID: gen})
	recv(t, sa)
	recv(t, sb)
	// a's process restarts: it joins with no member id and its instance id.
	r := recv(t, h.join(JoinRequest{GroupID: "g", ClientID: "a", InstanceID: &ia, RequireKnownMemberID: true}))
	if r.Err != nil || r.GenerationID != gen || r.MemberID == ids["a"] || r.LeaderID != leader {
		t.Fatalf("static rejoin: %+v (old id %s, leader %s)", r, ids["a"], leader)
	}
	if s := h.state("g"); s != Stable {
		t.Fatalf("a static rejoin rebalanced the group: %s", s)
	}
	if err := h.c.Heartbeat(HeartbeatRequest{GroupID: "g", MemberID: ids["b"], GenerationID: gen, InstanceID: &ib}); err != nil {
		t.Fatalf("the other member's heartbeat: %v", err)
	}
	if sr := recv(t, h.sync(SyncRequest{GroupID: "g", MemberID: r.MemberID, InstanceID: &ia, GenerationID: gen})); sr.Err != nil || string(sr.Assignment) != "pa" {
		t.Fatalf("rejoined member's assignment: %+v", sr)
	}
	// The old incarnation is fenced.
	if err := h.c.Heartbeat(HeartbeatRequest{GroupID: "g", MemberID: ids["a"], GenerationID: gen, InstanceID: &ia}); !errors.Is(err, ErrFencedInstanceID) {
		t.Fatalf("old incarnation's heartbeat: %v", err)
	}
	errs := commit(h, CommitRequest{GroupID: "g", MemberID: ids["a"], InstanceID: &ia, GenerationID: gen,
		Offsets: []CommitOffset{{TP: tp("t", 0), Offset: Offset{Offset: 1, LeaderEpoch: -1, ExpireTimestamp: -1}}}})
	if !errors.Is(errs[0], ErrFencedInstanceID) {
		t.Fatalf("old incarnation's commit: %v", errs[0])
	}
	// The new member id was stored: after a restart the group has it.
	h.restart()
	if err := h.c.Heartbeat(HeartbeatRequest{GroupID: "g", MemberID: r.MemberID, GenerationID: gen, InstanceID: &ia}); err != nil {
		t.Fatalf("heartbeat after reload: %v", err)
	}
}

func TestCommitAndFetch(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("g", "a")
	off := func(o int64, md string) Offset {
		return Offset{Offset: o, LeaderEpoch: 3, Metadata: md, CommitTimestamp: 1, ExpireTimestamp: -1}
	}
	tests := []struct {
		name string
		req  CommitRequest
		want error
	}{
		{"member of the generation", CommitRequest{GroupID: "g", MemberID: ids["a"], GenerationID: gen,
			Offsets: []CommitOffset{{tp("t", 0), off(10, "m")}, {tp("t", 1), off(20, "")}}}, nil},
		{"old generation", CommitRequest{GroupID: "g", MemberID: ids["a"], GenerationID: gen - 1,
			Offsets: []CommitOffset{{tp("t", 0), off(11, "")}}}, ErrIllegalGeneration},
		{"unknown member", CommitRequest{GroupID: "g", MemberID: "x", GenerationID: gen,
			Offsets: []CommitOffset{{tp("t", 0), off(11, "")}}}, ErrUnknownMemberID},
		{"outside the group while it has members", CommitRequest{GroupID: "g", GenerationID: -1,
			Offsets: []CommitOffset{{tp("t", 0), off(11, "")}}}, ErrUnknownMemberID},
		{"generation of a group that does not exist", CommitRequest{GroupID: "nope", MemberID: "x", GenerationID: 3,
			Offsets: []CommitOffset{{tp("t", 0), off(11, "")}}}, ErrIllegalGeneration},
		{"metadata too large", CommitRequest{GroupID: "g", MemberID: ids["a"], GenerationID: gen,
			Offsets: []CommitOffset{{tp("t", 2), off(1, strings.Repeat("x", 4097))}}}, ErrOffsetMetadataTooLarge},
		{"standalone commit to a new group", CommitRequest{GroupID: "solo", GenerationID: -1,
			Offsets: []CommitOffset{{tp("u", 0), off(7, "")}}}, nil},
	}
	for _, tt := range tests {
		for i, err := range commit(h, tt.req) {
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("%s: partition %d: %v, want %v", tt.name, i, err, tt.want)
			}
		}
	}
	got, err := h.c.FetchOffsets("g", false, nil)
	if err != nil || len(got) != 2 || got[0].Offset != 10 || got[0].Metadata != "m" || got[0].LeaderEpoch != 3 || got[1].Offset != 20 {
		t.Fatalf("fetch all: %+v %v", got, err)
	}
	got, _ = h.c.FetchOffsets("g", true, []klog.TopicPartition{tp("t", 1), tp("t", 9)})
	if got[0].Offset != 20 || got[1].Offset != -1 || got[1].LeaderEpoch != -1 || got[1].Err != nil {
		t.Fatalf("fetch some: %+v", got)
	}
	if got, _ := h.c.FetchOffsets("nobody", false, []klog.TopicPartition{tp("t", 0)}); got[0].Offset != -1 {
		t.Fatalf("fetch of an unknown group: %+v", got)
	}
	// A later commit of the same partition in one request wins.
	commit(h, CommitRequest{GroupID: "g", MemberID: ids["a"], GenerationID: gen,
		Offsets: []CommitOffset{{tp("t", 0), off(30, "")}, {tp("t", 0), off(31, "")}}})
	if got, _ := h.c.FetchOffsets("g", false, []klog.TopicPartition{tp("t", 0)}); got[0].Offset != 31 {
		t.Fatalf("duplicate partitions: %+v", got)
	}
	// The records are Kafka's: key v1, value v3.
	var found bool
	for _, rec := range h.records(PartitionFor("g", testPartitions)) {
		if rec.OffsetKey != nil && rec.OffsetKey.Group == "g" && rec.OffsetKey.Partition == 0 && rec.Offset != nil && rec.Offset.Offset == 10 {
			found = rec.OffsetKey.Version == 1 && rec.Offset.Version == 3 && rec.Offset.Metadata == "m" && rec.Offset.LeaderEpoch == 3
		}
	}
	if !found {
		t.Fatalf("offset 10 not in the log as a v1 key / v3 value")
	}
}

func TestCommitDuringCompletingRebalance(t *testing.T) {
	h := newHarness(t, testConfig())
	a := h.join(JoinRequest{GroupID: "g"})
	h.clock.Advance(3 * time.Second)
	r := recv(t, a)
	errs := commit(h, CommitRequest{GroupID: "g", MemberID: r.MemberID, GenerationID: r.GenerationID,
		Offsets: []CommitOffset{{TP: tp("t", 0), Offset: Offset{Offset: 1, LeaderEpoch: -1, ExpireTimestamp: -1}}}})
	if !errors.Is(errs[0], ErrRebalanceInProgress) {
		t.Fatalf("commit before sync: %v", errs[0])
	}
}

func TestReloadAfterRestart(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("g", "a", "b")
	for p := int32(0); p < 6; p++ {
		commit(h, CommitRequest{GroupID: "g", MemberID: ids["a"], GenerationID: gen,
			Offsets: []CommitOffset{{TP: tp("t", p), Offset: Offset{Offset: int64(100 + p), LeaderEpoch: -1, CommitTimestamp: 5, ExpireTimestamp: -1}}}})
	}
	commit(h, CommitRequest{GroupID: "solo", GenerationID: -1,
		Offsets: []CommitOffset{{TP: tp("u", 0), Offset: Offset{Offset: 9, LeaderEpoch: -1, ExpireTimestamp: -1}}}})
	h.restart()
	if s := h.state("g"); s != Stable {
		t.Fatalf("reloaded state: %s", s)
	}
	for cl, id := range ids {
		if err := h.c.Heartbeat(HeartbeatRequest{GroupID: "g", MemberID: id, GenerationID: gen}); err != nil {
			t.Fatalf("heartbeat of %s after reload: %v", cl, err)
		}
		if r := recv(t, h.sync(SyncRequest{GroupID: "g", MemberID: id, GenerationID: gen})); string(r.Assignment) != cl {
			t.Fatalf("assignment of %s after reload: %q", cl, r.Assignment)
		}
	}
	got, _ := h.c.FetchOffsets("g", false, nil)
	if len(got) != 6 {
		t.Fatalf("reloaded offsets: %+v", got)
	}
	for i, f := range got {
		if f.Offset != int64(100+i) {
			t.Fatalf("reloaded offset %d: %+v", i, f)
		}
	}
	if got, _ := h.c.FetchOffsets("solo", false, nil); len(got) != 1 || got[0].Offset != 9 {
		t.Fatalf("reloaded standalone offsets: %+v", got)
	}
	if s := h.state("solo"); s != Empty {
		t.Fatalf("offset-only group state: %s", s)
	}
	// Loaded members that never heartbeat again expire after their session timeout.
	h.clock.Advance(5 * time.Second)
	if err := h.c.Heartbeat(HeartbeatRequest{GroupID: "g", MemberID: ids["a"], GenerationID: gen}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(5 * time.Second)
	if s := h.state("g"); s != PreparingRebalance {
		t.Fatalf("state after loaded members' sessions ran out: %s", s)
	}
}

func TestResignationAnswersParkedRequests(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, _ := h.stableGroup("g", "a", "b")
	a := h.join(JoinRequest{GroupID: "g", MemberID: ids["a"]}) // parked: b has not rejoined
	p := PartitionFor("g", testPartitions)
	h.c.OnResignation(p, h.epoch) // same epoch: applies
	if r := recv(t, a); !errors.Is(r.Err, ErrNotCoordinator) {
		t.Fatalf("parked join after resignation: %+v", r)
	}
	if err := h.c.Heartbeat(HeartbeatRequest{GroupID: "g", MemberID: ids["b"]}); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("heartbeat after resignation: %v", err)
	}
	// A resignation older than the newest election is ignored.
	h.c.OnElection(p, h.epoch+1)
	h.waitLoaded(p)
	h.c.OnResignation(p, h.epoch)
	if err := h.c.validate("g", apiHeartbeat); err != nil {
		t.Fatalf("stale resignation applied: %v", err)
	}
	// The group was reloaded by the new election; its offsets too.
	if s := h.state("g"); s != Stable {
		t.Fatalf("state after re-election: %s", s)
	}
}

func TestDeleteGroups(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("busy", "a")
	commit(h, CommitRequest{GroupID: "busy", MemberID: ids["a"], GenerationID: gen,
		Offsets: []CommitOffset{{TP: tp("t", 0), Offset: Offset{Offset: 1, LeaderEpoch: -1, ExpireTimestamp: -1}}}})
	eids, egen := h.stableGroup("idle", "b")
	commit(h, CommitRequest{GroupID: "idle", MemberID: eids["b"], GenerationID: egen,
		Offsets: []CommitOffset{{TP: tp("t", 0), Offset: Offset{Offset: 2, LeaderEpoch: -1, ExpireTimestamp: -1}}}})
	h.c.LeaveGroup("idle", []LeaveMember{{MemberID: eids["b"]}})
	deadline := time.Now().Add(5 * time.Second)
	for h.state("idle") != Empty {
		if time.Now().After(deadline) {
			t.Fatalf("idle group state: %s", h.state("idle"))
		}
		time.Sleep(time.Millisecond)
	}
	errs := h.c.DeleteGroups(context.Background(), []string{"busy", "idle", "nope"})
	if !errors.Is(errs[0], ErrNonEmptyGroup) || errs[1] != nil || !errors.Is(errs[2], ErrGroupIDNotFound) {
		t.Fatalf("delete: %v", errs)
	}
	if got, _ := h.c.FetchOffsets("idle", false, []klog.TopicPartition{tp("t", 0)}); got[0].Offset != -1 {
		t.Fatalf("deleted group's offset: %+v", got)
	}
	var tombstones int
	for _, rec := range h.records(PartitionFor("idle", testPartitions)) {
		if (rec.OffsetKey != nil && rec.OffsetKey.Group == "idle" && rec.Offset == nil) ||
			(rec.GroupKey != nil && rec.GroupKey.Group == "idle" && rec.Group == nil) {
			tombstones++
		}
	}
	if tombstones != 2 {
		t.Fatalf("%d tombstones for the deleted group, want 2 (offset and metadata)", tombstones)
	}
	h.restart()
	if s := h.state("idle"); s != Dead {
		t.Fatalf("deleted group came back after reload: %s", s)
	}
	if got, _ := h.c.FetchOffsets("busy", false, nil); len(got) != 1 || got[0].Offset != 1 {
		t.Fatalf("busy group's offsets after reload: %+v", got)
	}
}

func TestDeleteOffsets(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, gen := h.stableGroup("g", "a") // subscribed to topic "t"
	commit(h, CommitRequest{GroupID: "g", MemberID: ids["a"], GenerationID: gen, Offsets: []CommitOffset{
		{TP: tp("t", 0), Offset: Offset{Offset: 1, LeaderEpoch: -1, ExpireTimestamp: -1}},
		{TP: tp("old", 0), Offset: Offset{Offset: 2, LeaderEpoch: -1, ExpireTimestamp: -1}}}})
	errs, err := h.c.DeleteOffsets(context.Background(), "g", []klog.TopicPartition{tp("t", 0), tp("old", 0)})
	if err != nil || !errors.Is(errs[0], ErrGroupSubscribedToTopic) || errs[1] != nil {
		t.Fatalf("delete offsets: %v %v", err, errs)
	}
	got, _ := h.c.FetchOffsets("g", false, nil)
	if len(got) != 1 || got[0].TP != tp("t", 0) {
		t.Fatalf("offsets after delete: %+v", got)
	}
	if _, err := h.c.DeleteOffsets(context.Background(), "nope", []klog.TopicPartition{tp("t", 0)}); !errors.Is(err, ErrGroupIDNotFound) {
		t.Fatalf("unknown group: %v", err)
	}
}

func TestOffsetExpiry(t *testing.T) {
	cfg := testConfig()
	cfg.RetentionMs = 60_000
	h := newHarness(t, cfg)
	commit(h, CommitRequest{GroupID: "solo", GenerationID: -1, Offsets: []CommitOffset{
		{TP: tp("t", 0), Offset: Offset{Offset: 1, LeaderEpoch: -1, CommitTimestamp: h.clock.Now().UnixMilli(), ExpireTimestamp: -1}}}})
	h.clock.Advance(59 * time.Second)
	if n := h.c.expireOffsets(); n != 0 {
		t.Fatalf("expired %d offsets before the retention", n)
	}
	h.clock.Advance(time.Second)
	if n := h.c.expireOffsets(); n != 1 {
		t.Fatalf("expired %d offsets at the retention, want 1", n)
	}
	if s := h.state("solo"); s != Dead {
		t.Fatalf("offset-less group: %s", s)
	}
	var tomb bool
	for _, rec := range h.records(PartitionFor("solo", testPartitions)) {
		if rec.OffsetKey != nil && rec.OffsetKey.Group == "solo" && rec.Offset == nil {
			tomb = true
		}
	}
	if !tomb {
		t.Fatal("no tombstone written for the expired offset")
	}
	// A group with members keeps the offsets of topics it subscribes to.
	ids, gen := h.stableGroup("g", "a")
	commit(h, CommitRequest{GroupID: "g", MemberID: ids["a"], GenerationID: gen, Offsets: []CommitOffset{
		{TP: tp("t", 0), Offset: Offset{Offset: 1, LeaderEpoch: -1, CommitTimestamp: h.clock.Now().UnixMilli(), ExpireTimestamp: -1}},
		{TP: tp("gone", 0), Offset: Offset{Offset: 1, LeaderEpoch: -1, CommitTimestamp: h.clock.Now().UnixMilli(), ExpireTimestamp: -1}}}})
	for i := 0; i < 13; i++ {
		h.clock.Advance(5 * time.Second)
		if err := h.c.Heartbeat(HeartbeatRequest{GroupID: "g", MemberID: ids["a"], GenerationID: gen}); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.c.expireOffsets(); n != 1 {
		t.Fatalf("expired %d offsets of the active group, want 1 (the unsubscribed topic)", n)
	}
}

func TestListAndDescribe(t *testing.T) {
	h := newHarness(t, testConfig())
	ids, _ := h.stableGroup("g1", "a")
	commit(h, CommitRequest{GroupID: "g2", GenerationID: -1, Offsets: []CommitOffset{
		{TP: tp("t", 0), Offset: Offset{Offset: 1, LeaderEpoch: -1, ExpireTimestamp: -1}}}})
	all, err := h.c.ListGroups(nil)
	if err != nil || len(all) != 2 || all[0] != (GroupOverview{"g1", "consumer", "Stable"}) || all[1] != (GroupOverview{"g2", "", "Empty"}) {
		t.Fatalf("list: %+v %v", all, err)
	}
	if st, _ := h.c.ListGroups([]string{"Empty"}); len(st) != 1 || st[0].GroupID != "g2" {
		t.Fatalf("list Empty: %+v", st)
	}
	d, err := h.c.DescribeGroup("g1")
	if err != nil || d.State != "Stable" || d.Protocol != "range" || len(d.Members) != 1 ||
		d.Members[0].MemberID != ids["a"] || string(d.Members[0].Assignment) != "a" || d.Members[0].ClientID != "a" {
		t.Fatalf("describe: %+v %v", d, err)
	}
	if d, _ := h.c.DescribeGroup("none"); d.State != "Dead" || len(d.Members) != 0 {
		t.Fatalf("describe unknown: %+v", d)
	}
}

func TestProtocolSelection(t *testing.T) {
	tests := []struct {
		name    string
		members [][]string
		want    string
	}{
		{"one member, first preference", [][]string{{"cooperative-sticky", "range"}}, "cooperative-sticky"},
		{"only common protocol", [][]string{{"sticky", "range"}, {"range"}}, "range"},
		{"majority preference", [][]string{{"roundrobin", "range"}, {"range", "roundrobin"}, {"range", "roundrobin"}}, "range"},
		{"tie: the first member's", [][]string{{"roundrobin", "range"}, {"range", "roundrobin"}}, "roundrobin"},
	}
	for _, tt := range tests {
		g := newGroup("g", 0, PreparingRebalance, 0)
		for i, ps := range tt.members {
			m := &member{id: fmt.Sprint("m", i), protocolType: "consumer"}
			for _, p := range ps {
				m.protocols = append(m.protocols, Protocol{Name: p})
			}
			g.add(m)
		}
		if got := g.selectProtocol(); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestGroupMaxSize(t *testing.T) {
	cfg := testConfig()
	cfg.MaxSize = 2
	h := newHarness(t, cfg)
	h.stableGroup("g", "a", "b")
	if r := recv(t, h.join(JoinRequest{GroupID: "g", ClientID: "c"})); !errors.Is(r.Err, ErrGroupMaxSizeReached) {
		t.Fatalf("third member: %+v", r)
	}
	if s := h.state("g"); s != Stable {
		t.Fatalf("refused member disturbed the group: %s", s)
	}
}

func TestMembersThatDoNotSyncAreRemoved(t *testing.T) {
	h := newHarness(t, testConfig())
	a := h.join(JoinRequest{GroupID: "g", ClientID: "a"})
	b := h.join(JoinRequest{GroupID: "g", ClientID: "b"})
	h.clock.Advance(6 * time.Second)
	ra, rb := recv(t, a), recv(t, b)
	// Only the leader syncs (and heartbeats); b never does.
	leaderSync := h.sync(SyncRequest{GroupID: "g", MemberID: ra.MemberID, GenerationID: ra.GenerationID,
		Assignments: map[string][]byte{ra.MemberID: []byte("x"), rb.MemberID: []byte("y")}})
	recv(t, leaderSync)
	if s := h.state("g"); s != Stable {
		t.Fatalf("state: %s", s)
	}
	for i := 0; i < 4; i++ {
		h.clock.Advance(5 * time.Second)
		h.c.Heartbeat(HeartbeatRequest{GroupID: "g", MemberID: ra.MemberID, GenerationID: ra.GenerationID})
	}
	// b's session (10s) ran out first; either way it is gone and the group rebalanced.
	if err := h.c.Heartbeat(HeartbeatRequest{GroupID: "g", MemberID: rb.MemberID, GenerationID: rb.GenerationID}); !errors.Is(err, ErrUnknownMemberID) {
		t.Fatalf("b after not syncing: %v", err)
	}
	// With a session longer than the rebalance timeout, the sync deadline is what removes it.
	h2 := newHarness(t, testConfig())
	a = h2.join(JoinRequest{GroupID: "g", ClientID: "a", SessionTimeoutMs: 60000, RebalanceTimeoutMs: 5000})
	b = h2.join(JoinRequest{GroupID: "g", ClientID: "b", SessionTimeoutMs: 60000, RebalanceTimeoutMs: 5000})
	h2.clock.Advance(5 * time.Second) // the initial delay (extended once, bounded by 5000ms)
	ra, rb = recv(t, a), recv(t, b)
	recv(t, h2.sync(SyncRequest{GroupID: "g", MemberID: ra.MemberID, GenerationID: ra.GenerationID,
		Assignments: map[string][]byte{ra.MemberID: []byte("x")}}))
	h2.clock.Advance(4999 * time.Millisecond)
	if s := h2.state("g"); s != Stable {
		t.Fatalf("state before the sync deadline: %s", s)
	}
	h2.clock.Advance(time.Millisecond)
	if s := h2.state("g"); s != PreparingRebalance {
		t.Fatalf("state after the sync deadline: %s", s)
	}
	if err := h2.c.Heartbeat(HeartbeatRequest{GroupID: "g", MemberID: rb.MemberID, GenerationID: rb.GenerationID}); !errors.Is(err, ErrUnknownMemberID) {
		t.Fatalf("b after the sync deadline: %v", err)
	}
}

func TestStaticLeaderRejoinSkipsAssignment(t *testing.T) {
	for _, v9 := range []bool{false, true} {
		h := newHarness(t, testConfig())
		ia, ib := "ia", "ib"
		a := h.join(JoinRequest{GroupID: "g", ClientID: "a", InstanceID: &ia})
		h.clock.Advance(time.Second)
		b := h.join(JoinRequest{GroupID: "g", ClientID: "b", InstanceID: &ib})
		h.clock.Advance(5 * time.Second)
		ra, rb := recv(t, a), recv(t, b)
		if ra.LeaderID != ra.MemberID {
			t.Fatalf("a should lead: %+v", ra)
		}
		recv(t, h.sync(SyncRequest{GroupID: "g", MemberID: ra.MemberID, GenerationID: ra.GenerationID,
			Assignments: map[string][]byte{ra.MemberID: []byte("x"), rb.MemberID: []byte("y")}}))
		recv(t, h.sync(SyncRequest{GroupID: "g", MemberID: rb.MemberID, GenerationID: rb.GenerationID}))
		r := recv(t, h.join(JoinRequest{GroupID: "g", ClientID: "a", InstanceID: &ia, SupportsSkipAssignment: v9}))
		if r.Err != nil || r.GenerationID != ra.GenerationID || h.state("g") != Stable {
			t.Fatalf("v9=%v: static leader rejoin: %+v state %s", v9, r, h.state("g"))
		}
		if v9 && (r.LeaderID != r.MemberID || !r.SkipAssignment || len(r.Members) != 2) {
			t.Fatalf("v9: leader should learn it leads and skip the assignment: %+v", r)
		}
		if !v9 && (r.LeaderID != ra.MemberID || r.SkipAssignment || len(r.Members) != 0) {
			t.Fatalf("v8: the old leader id is answered: %+v", r)
		}
	}
}
