package api

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/config"
)

// groupsHandler is a Handler over a real log manager, replica manager and group coordinator,
// told by UpdateMetadata and LeaderAndIsr (as the controller would) that broker 1 leads the
// three __consumer_offsets partitions and topic "t".
func groupsHandler(t *testing.T) (*Handler, *group.Coordinator) {
	t.Helper()
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	logs, err := klog.OpenManager(klog.ManagerOptions{Dirs: []string{t.TempDir()}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	rm := replica.NewManager(replica.Options{BrokerID: 1, Logs: logs, Logger: quiet,
		LogConfig: func(string) (klog.Config, int32, error) { return klog.DefaultConfig(), 1, nil }})
	gcfg := group.DefaultConfig()
	gcfg.InitialRebalanceDelayMs = 0
	coord := group.New(group.Options{BrokerID: 1, Config: gcfg, Replicas: rm, Logs: logs,
		Partitions: func() int32 { return 3 }, Logger: quiet})
	coord.Start()
	t.Cleanup(func() { coord.Shutdown(); rm.Shutdown(); logs.Close() })
	cfg := config.Default()
	cfg.BrokerID, cfg.OffsetsTopicNumPartitions = 1, 3
	cache := metadata.New()
	h := New(Options{BrokerID: 1, ClusterID: "c", Config: cfg, Cache: cache, Replicas: rm, Groups: coord,
		Controller: fakeController(true), BrokerEpoch: func() int64 { return -1 }, Logger: quiet})

	um := kmsg.NewPtrUpdateMetadataRequest()
	um.ControllerID, um.ControllerEpoch, um.BrokerEpoch = 1, 1, -1
	lb := kmsg.NewUpdateMetadataRequestLiveBroker()
	lb.ID = 1
	lb.Endpoints = []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{{Host: "127.0.0.1", Port: 9092, ListenerName: "PLAINTEXT"}}
	um.LiveBrokers = append(um.LiveBrokers, lb)
	lr := kmsg.NewPtrLeaderAndISRRequest()
	lr.ControllerID, lr.ControllerEpoch, lr.BrokerEpoch = 1, 1, -1
	for _, tp := range []struct {
		topic string
		n     int32
	}{{consumerOffsetsTopic, 3}, {"t", 2}} {
		ut := kmsg.NewUpdateMetadataRequestTopicState()
		lt := kmsg.NewLeaderAndISRRequestTopicState()
		ut.Topic, lt.Topic = tp.topic, tp.topic
		for p := int32(0); p < tp.n; p++ {
			up := kmsg.NewUpdateMetadataRequestTopicPartition()
			up.Partition, up.Leader, up.ISR, up.Replicas = p, 1, []int32{1}, []int32{1}
			ut.PartitionStates = append(ut.PartitionStates, up)
			lp := kmsg.NewLeaderAndISRRequestTopicPartition()
			lp.Partition, lp.Leader, lp.LeaderEpoch, lp.ISR, lp.Replicas, lp.ControllerEpoch = p, 1, 0, []int32{1}, []int32{1}, 1
			lt.PartitionStates = append(lt.PartitionStates, lp)
		}
		um.TopicStates = append(um.TopicStates, ut)
		lr.TopicStates = append(lr.TopicStates, lt)
	}
	handle[*kmsg.UpdateMetadataResponse](t, h, request(um, 7))
	for _, p := range handle[*kmsg.LeaderAndISRResponse](t, h, request(lr, 5)).Topics[0].Partitions {
		if p.ErrorCode != 0 {
			t.Fatalf("LeaderAndIsr %d: %v", p.Partition, kerr.ErrorForCode(p.ErrorCode))
		}
	}
	// Loading is asynchronous: wait until every partition answers for its groups.
	deadline := time.Now().Add(10 * time.Second)
	for _, g := range []string{"a", "b", "c", "g", "g2", "solo"} {
		for coord.Heartbeat(group.HeartbeatRequest{GroupID: g}) != group.ErrUnknownMemberID {
			if time.Now().After(deadline) {
				t.Fatalf("coordinator did not load the partition of %s", g)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return h, coord
}

// wire encodes a response at its version and decodes it again, as a client would read it.
func wire[T kmsg.Response](t *testing.T, resp T) T {
	t.Helper()
	b := resp.AppendTo(nil)
	again := resp.Key()
	r := kmsg.ResponseForKey(again)
	r.SetVersion(resp.GetVersion())
	if err := r.ReadFrom(b); err != nil {
		t.Fatalf("%s v%d does not decode: %v", kmsg.NameForKey(again), resp.GetVersion(), err)
	}
	return r.(T)
}

// TestGroupAPIsEveryVersion drives a whole group lifecycle at every served version of each API
// and reads each answer back through the wire encoding.
func TestGroupAPIsEveryVersion(t *testing.T) {
	h, _ := groupsHandler(t)
	ranges := map[int16][2]int16{}
	for _, r := range Served {
		ranges[r.Key] = [2]int16{r.Min, r.Max}
	}
	for v := ranges[11][0]; v <= ranges[11][1]; v++ {
		gid := "g"
		// JoinGroup (v4+: MEMBER_ID_REQUIRED first).
		join := kmsg.NewPtrJoinGroupRequest()
		join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = gid, "consumer", 10000, 10000
		join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}}}
		jr := wire(t, handle[*kmsg.JoinGroupResponse](t, h, request(join, v)))
		if v >= 4 {
			if jr.ErrorCode != kerr.MemberIDRequired.Code || jr.MemberID == "" {
				t.Fatalf("JoinGroup v%d: %+v", v, jr)
			}
			join.MemberID = jr.MemberID
			jr = wire(t, handle[*kmsg.JoinGroupResponse](t, h, request(join, v)))
		}
		if jr.ErrorCode != 0 || jr.LeaderID != jr.MemberID || len(jr.Members) != 1 || (jr.Protocol == nil || *jr.Protocol != "range") {
			t.Fatalf("JoinGroup v%d: %v %+v", v, kerr.ErrorForCode(jr.ErrorCode), jr)
		}
		if v >= 7 && (jr.ProtocolType == nil || *jr.ProtocolType != "consumer") {
			t.Fatalf("JoinGroup v%d protocol type: %v", v, jr.ProtocolType)
		}
		member, gen := jr.MemberID, jr.Generation
		sv := min(v, ranges[14][1])
		sync := kmsg.NewPtrSyncGroupRequest()
		sync.Group, sync.MemberID, sync.Generation = gid, member, gen
		sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: member, MemberAssignment: []byte("a")}}
		if sr := wire(t, handle[*kmsg.SyncGroupResponse](t, h, request(sync, sv))); sr.ErrorCode != 0 || string(sr.MemberAssignment) != "a" {
			t.Fatalf("SyncGroup v%d: %+v", sv, sr)
		}
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.MemberID, hb.Generation = gid, member, gen
		if r := wire(t, handle[*kmsg.HeartbeatResponse](t, h, request(hb, min(v, ranges[12][1])))); r.ErrorCode != 0 {
			t.Fatalf("Heartbeat: %v", kerr.ErrorForCode(r.ErrorCode))
		}
		hb.Generation = gen - 1
		if r := handle[*kmsg.HeartbeatResponse](t, h, request(hb, 0)); r.ErrorCode != kerr.IllegalGeneration.Code {
			t.Fatalf("Heartbeat with an old generation: %v", kerr.ErrorForCode(r.ErrorCode))
		}

		for cv := ranges[8][0]; cv <= ranges[8][1]; cv++ {
			oc := kmsg.NewPtrOffsetCommitRequest()
			oc.Group = gid
			if cv >= 1 {
				oc.MemberID, oc.Generation = member, gen
			}
			if cv == 0 {
				oc.Group = "solo" // v0 has no generation: a standalone commit, to a group without members
			}
			ot := kmsg.NewOffsetCommitRequestTopic()
			ot.Topic = "t"
			op := kmsg.NewOffsetCommitRequestTopicPartition()
			op.Partition, op.Offset, op.Metadata = 1, int64(100+cv), strp("m")
			unknown := kmsg.NewOffsetCommitRequestTopicPartition()
			unknown.Partition = 9
			ot.Partitions = []kmsg.OffsetCommitRequestTopicPartition{op, unknown}
			oc.Topics = []kmsg.OffsetCommitRequestTopic{ot}
			r := wire(t, handle[*kmsg.OffsetCommitResponse](t, h, request(oc, cv)))
			if r.Topics[0].Partitions[0].ErrorCode != 0 || r.Topics[0].Partitions[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
				t.Fatalf("OffsetCommit v%d: %+v", cv, r.Topics[0].Partitions)
			}
			for fv := ranges[9][0]; fv <= ranges[9][1]; fv++ {
				of := kmsg.NewPtrOffsetFetchRequest()
				if fv >= 8 {
					of.Groups = []kmsg.OffsetFetchRequestGroup{{Group: oc.Group, Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{1, 0}}}},
						{Group: "unknown-group"}}
					fr := wire(t, handle[*kmsg.OffsetFetchResponse](t, h, request(of, fv)))
					if len(fr.Groups) != 2 || fr.Groups[0].Topics[0].Partitions[0].Offset != int64(100+cv) ||
						fr.Groups[0].Topics[0].Partitions[1].Offset != -1 || fr.Groups[1].ErrorCode != 0 {
						t.Fatalf("OffsetFetch v%d after commit v%d: %+v", fv, cv, fr.Groups)
					}
					continue
				}
				of.Group = oc.Group
				of.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{1}}}
				fr := wire(t, handle[*kmsg.OffsetFetchResponse](t, h, request(of, fv)))
				p := fr.Topics[0].Partitions[0]
				if p.Offset != int64(100+cv) || p.Metadata == nil || *p.Metadata != "m" || p.ErrorCode != 0 {
					t.Fatalf("OffsetFetch v%d after commit v%d: %+v", fv, cv, p)
				}
			}
		}

		for dv := ranges[15][0]; dv <= ranges[15][1]; dv++ {
			dg := kmsg.NewPtrDescribeGroupsRequest()
			dg.Groups, dg.IncludeAuthorizedOperations = []string{gid, "nobody"}, true
			r := wire(t, handle[*kmsg.DescribeGroupsResponse](t, h, request(dg, dv)))
			g := r.Groups[0]
			if g.State != "Stable" || g.Protocol != "range" || len(g.Members) != 1 || string(g.Members[0].MemberAssignment) != "a" ||
				g.Members[0].ClientHost != "/127.0.0.1" || r.Groups[1].State != "Dead" {
				t.Fatalf("DescribeGroups v%d: %+v", dv, r.Groups)
			}
			if dv >= 3 && g.AuthorizedOperations != groupAuthorizedOps {
				t.Fatalf("DescribeGroups v%d authorized operations %d", dv, g.AuthorizedOperations)
			}
		}
		for lv := ranges[16][0]; lv <= ranges[16][1]; lv++ {
			lg := kmsg.NewPtrListGroupsRequest()
			if lv >= 4 {
				lg.StatesFilter = []string{"Empty"}
			}
			r := wire(t, handle[*kmsg.ListGroupsResponse](t, h, request(lg, lv)))
			names := map[string]string{}
			for _, g := range r.Groups {
				names[g.Group] = g.GroupState
			}
			if _, ok := names["solo"]; !ok || (lv >= 4 && (names["solo"] != "Empty" || len(names) != 1)) || (lv < 4 && len(names) != 2) {
				t.Fatalf("ListGroups v%d: %+v", lv, r.Groups)
			}
		}
		// OffsetDelete: the member's subscription names no topics, so the offset may go.
		od := kmsg.NewPtrOffsetDeleteRequest()
		od.Group = gid
		od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 1}, {Partition: 7}}}}
		if r := wire(t, handle[*kmsg.OffsetDeleteResponse](t, h, request(od, 0))); r.ErrorCode != 0 ||
			r.Topics[0].Partitions[0].ErrorCode != 0 || r.Topics[0].Partitions[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("OffsetDelete: %+v", r)
		}

		lvv := min(v, ranges[13][1])
		lv := kmsg.NewPtrLeaveGroupRequest()
		lv.Group = gid
		if lvv < 3 {
			lv.MemberID = member
		} else {
			lv.Members = []kmsg.LeaveGroupRequestMember{{MemberID: member}, {MemberID: "nobody"}}
		}
		lr := wire(t, handle[*kmsg.LeaveGroupResponse](t, h, request(lv, lvv)))
		if lvv < 3 && lr.ErrorCode != 0 || lvv >= 3 && (lr.ErrorCode != 0 || lr.Members[0].ErrorCode != 0 || lr.Members[1].ErrorCode != kerr.UnknownMemberID.Code) {
			t.Fatalf("LeaveGroup v%d: %+v", lvv, lr)
		}
		del := kmsg.NewPtrDeleteGroupsRequest()
		del.Groups = []string{gid, "solo", "nobody"}
		dr := wire(t, handle[*kmsg.DeleteGroupsResponse](t, h, request(del, min(v, ranges[42][1]))))
		if dr.Groups[0].ErrorCode != 0 || dr.Groups[1].ErrorCode != 0 || dr.Groups[2].ErrorCode != kerr.GroupIDNotFound.Code {
			t.Fatalf("DeleteGroups: %+v", dr.Groups)
		}
	}
}

// TestFindCoordinatorAndLeadershipHooks: FindCoordinator names the leader of the group's
// partition (v0–v3 one key, v4 several); a LeaderAndIsr that makes this broker a follower, or a
// StopReplica, drops the partition's groups (NOT_COORDINATOR); clients may not produce to
// __consumer_offsets.
func TestFindCoordinatorAndLeadershipHooks(t *testing.T) {
	h, coord := groupsHandler(t)
	for v := int16(0); v <= 4; v++ {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey, fc.CoordinatorKeys = "a", []string{"a", "b"}
		r := wire(t, handle[*kmsg.FindCoordinatorResponse](t, h, request(fc, v)))
		if v < 4 && (r.ErrorCode != 0 || r.NodeID != 1 || r.Host != "127.0.0.1" || r.Port != 9092) {
			t.Fatalf("FindCoordinator v%d: %+v", v, r)
		}
		if v == 4 && (len(r.Coordinators) != 2 || r.Coordinators[1].Key != "b" || r.Coordinators[1].NodeID != 1) {
			t.Fatalf("FindCoordinator v4: %+v", r.Coordinators)
		}
	}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey, fc.CoordinatorType = "txn", 1
	if r := handle[*kmsg.FindCoordinatorResponse](t, h, request(fc, 3)); r.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("transaction coordinator: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	// "a" → partition 1 (hash 97 % 3), "b" → 2 (98 % 3), "c" → 0.
	if group.PartitionFor("a", 3) != 1 || group.PartitionFor("b", 3) != 2 || group.PartitionFor("c", 3) != 0 {
		t.Fatal("test groups do not map to the partitions the test assumes")
	}
	lr := kmsg.NewPtrLeaderAndISRRequest()
	lr.ControllerID, lr.ControllerEpoch, lr.BrokerEpoch = 1, 1, -1
	lt := kmsg.NewLeaderAndISRRequestTopicState()
	lt.Topic = consumerOffsetsTopic
	lp := kmsg.NewLeaderAndISRRequestTopicPartition()
	lp.Partition, lp.Leader, lp.LeaderEpoch, lp.ISR, lp.Replicas, lp.ControllerEpoch = 1, 2, 1, []int32{2, 1}, []int32{2, 1}, 1
	lt.PartitionStates = []kmsg.LeaderAndISRRequestTopicPartition{lp}
	lr.TopicStates = []kmsg.LeaderAndISRRequestTopicState{lt}
	handle[*kmsg.LeaderAndISRResponse](t, h, request(lr, 5))
	if err := coord.Heartbeat(group.HeartbeatRequest{GroupID: "a"}); err == nil || ErrorCode(err) != kerr.NotCoordinator.Code {
		t.Fatalf("group of a followed partition: %v", err)
	}
	sr := kmsg.NewPtrStopReplicaRequest()
	sr.ControllerID, sr.ControllerEpoch, sr.BrokerEpoch = 1, 1, -1
	sr.Topics = []kmsg.StopReplicaRequestTopic{{Topic: consumerOffsetsTopic, PartitionStates: []kmsg.StopReplicaRequestTopicPartitionState{{Partition: 2, LeaderEpoch: 1}}}}
	handle[*kmsg.StopReplicaResponse](t, h, request(sr, 3))
	if err := coord.Heartbeat(group.HeartbeatRequest{GroupID: "b"}); ErrorCode(err) != kerr.NotCoordinator.Code {
		t.Fatalf("group of a stopped partition: %v", err)
	}
	if err := coord.Heartbeat(group.HeartbeatRequest{GroupID: "c"}); ErrorCode(err) != kerr.UnknownMemberID.Code {
		t.Fatalf("group of a partition still led: %v", err)
	}

	pr := kmsg.NewPtrProduceRequest()
	pr.Acks, pr.TimeoutMillis = 1, 1000
	pr.Topics = []kmsg.ProduceRequestTopic{{Topic: consumerOffsetsTopic, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: batch(70, 2, 0)}}}}
	resp, err := h.Handle(context.Background(), request(pr, 8))
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.InvalidTopicException.Code {
		t.Fatalf("produce to __consumer_offsets: %v", kerr.ErrorForCode(code))
	}
}
