package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// rawGroupClient sends hand-built group requests; kgo routes each to the group's coordinator.
type rawGroupClient struct {
	t  *testing.T
	cl *kgo.Client
}

func (c rawGroupClient) join(ctx context.Context, group, member string) *kmsg.JoinGroupResponse {
	c.t.Helper()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.MemberID, req.ProtocolType = group, member, "consumer"
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10000, 5000
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte{0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}
	req.Protocols = append(req.Protocols, p)
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		c.t.Fatalf("join: %v", err)
	}
	return resp
}

func (c rawGroupClient) sync(ctx context.Context, group, member string, gen int32, assign map[string][]byte) *kmsg.SyncGroupResponse {
	c.t.Helper()
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group, req.MemberID, req.Generation = group, member, gen
	for m, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = m, a
		req.GroupAssignment = append(req.GroupAssignment, ga)
	}
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		c.t.Fatalf("sync: %v", err)
	}
	return resp
}

func (c rawGroupClient) heartbeat(ctx context.Context, group, member string, gen int32) error {
	c.t.Helper()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.MemberID, req.Generation = group, member, gen
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		c.t.Fatalf("heartbeat: %v", err)
	}
	return kerr.ErrorForCode(resp.ErrorCode)
}

func (c rawGroupClient) commit(ctx context.Context, group, member string, gen int32, topic string, offset int64) error {
	c.t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.MemberID, req.Generation = group, member, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		c.t.Fatalf("commit: %v", err)
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}

// TestGroupProtocolErrors drives the group protocol by hand and checks Kafka's answers: a
// first v4+ join gets MEMBER_ID_REQUIRED; a rebalance makes heartbeats answer
// REBALANCE_IN_PROGRESS; a commit with the previous generation gets ILLEGAL_GENERATION; a
// heartbeat from an unknown member UNKNOWN_MEMBER_ID; a session timeout outside the broker's
// bounds INVALID_SESSION_TIMEOUT; FindCoordinator v4 answers a batch of keys.
func TestGroupProtocolErrors(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1, Config: groupTestConfig})
	adm := newAdmin(t, c.Bootstrap())
	createTopic(t, adm, "proto", 1, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	raw := rawGroupClient{t, cl}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const group = "proto-group"

	// FindCoordinator v4 with several keys (the first request also creates __consumer_offsets).
	var fc *kmsg.FindCoordinatorResponse
	deadline := time.Now().Add(30 * time.Second)
	for {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKeys = []string{group, "another-group"}
		if fc, err = req.RequestWith(ctx, cl); err != nil {
			t.Fatal(err)
		}
		if len(fc.Coordinators) == 2 && fc.Coordinators[0].ErrorCode == 0 && fc.Coordinators[1].ErrorCode == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("FindCoordinator never answered: %+v", fc)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Matched by key: kgo shards a batched FindCoordinator and merges the answers in no fixed order.
	var mine *kmsg.FindCoordinatorResponseCoordinator
	for i := range fc.Coordinators {
		if fc.Coordinators[i].Key == group {
			mine = &fc.Coordinators[i]
		}
	}
	if fc.Version < 4 || mine == nil || mine.NodeID != 1 || mine.Host != "127.0.0.1" || int(mine.Port) != c.Broker(1).Port {
		t.Fatalf("FindCoordinator v%d: %+v", fc.Version, fc.Coordinators)
	}

	j := raw.join(ctx, group, "")
	if kerr.ErrorForCode(j.ErrorCode) != kerr.MemberIDRequired || !strings.HasPrefix(j.MemberID, "kgo-") {
		t.Fatalf("first join: %v member %q (v%d)", kerr.ErrorForCode(j.ErrorCode), j.MemberID, j.Version)
	}
	a := raw.join(ctx, group, j.MemberID)
	if a.ErrorCode != 0 || a.Generation != 1 || a.LeaderID != j.MemberID || len(a.Members) != 1 {
		t.Fatalf("join with the member id: %+v", a)
	}
	if s := raw.sync(ctx, group, a.MemberID, 1, map[string][]byte{a.MemberID: []byte("assignment")}); s.ErrorCode != 0 || string(s.MemberAssignment) != "assignment" {
		t.Fatalf("sync: %+v", s)
	}
	if err := raw.commit(ctx, group, a.MemberID, 1, "proto", 7); err != nil {
		t.Fatalf("commit with the current generation: %v", err)
	}

	// A second member joins: the first is told to rejoin by its heartbeat, generation 2 forms.
	jb := raw.join(ctx, group, "")
	second := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { second <- raw.join(ctx, group, jb.MemberID) }()
	deadline = time.Now().Add(30 * time.Second)
	for {
		err := raw.heartbeat(ctx, group, a.MemberID, 1)
		if errors.Is(err, kerr.RebalanceInProgress) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("heartbeat during the rebalance: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	a2 := raw.join(ctx, group, a.MemberID)
	b2 := <-second
	if a2.ErrorCode != 0 || b2.ErrorCode != 0 || a2.Generation != 2 || b2.Generation != 2 {
		t.Fatalf("rejoin: %+v / %+v", a2, b2)
	}
	if err := raw.commit(ctx, group, a.MemberID, 1, "proto", 8); !errors.Is(err, kerr.IllegalGeneration) {
		t.Fatalf("commit with the old generation: %v, want ILLEGAL_GENERATION", err)
	}
	if err := raw.heartbeat(ctx, group, "nobody-1234", 2); !errors.Is(err, kerr.UnknownMemberID) {
		t.Fatalf("heartbeat of an unknown member: %v, want UNKNOWN_MEMBER_ID", err)
	}
	bad := kmsg.NewPtrJoinGroupRequest()
	bad.Group, bad.ProtocolType, bad.SessionTimeoutMillis, bad.RebalanceTimeoutMillis = group, "consumer", 999, 5000
	bad.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	if r, err := bad.RequestWith(ctx, cl); err != nil || kerr.ErrorForCode(r.ErrorCode) != kerr.InvalidSessionTimeout {
		t.Fatalf("join with a 999ms session: %v %v", r, err)
	}
	// The commit made with generation 1 is what the group has.
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup("proto", 0); !ok || o.At != 7 {
		t.Fatalf("committed offset: %+v", o)
	}
}

// TestOffsetsTopicNeedsEnoughBrokers: with offsets.topic.replication.factor above the number of
// live brokers, FindCoordinator answers COORDINATOR_NOT_AVAILABLE and __consumer_offsets is not
// created, as in Kafka.
func TestOffsetsTopicNeedsEnoughBrokers(t *testing.T) {
	t.Setenv("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "3") // the broker processes inherit it
	c := testcluster.Start(t, testcluster.Options{Brokers: 1, Config: groupTestConfig})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = "g"
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if kerr.ErrorForCode(resp.ErrorCode) != kerr.CoordinatorNotAvailable || resp.NodeID != -1 {
			t.Fatalf("FindCoordinator with 1 of 3 brokers: %v node %d", kerr.ErrorForCode(resp.ErrorCode), resp.NodeID)
		}
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("__consumer_offsets")}}
	md.AllowAutoTopicCreation = false
	resp, err := md.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || kerr.ErrorForCode(resp.Topics[0].ErrorCode) != kerr.UnknownTopicOrPartition {
		t.Fatalf("__consumer_offsets was created: %+v", resp.Topics)
	}
}
