package api

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/network"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/config"
	"github.com/gregor-broker/gregor/controller"
)

// These tests drive handlers that need only the metadata cache; paths that reach ZooKeeper or
// the replica manager are covered by the broker package's integration test.

type fakeController bool

func (f fakeController) IsActive() bool { return bool(f) }

// ControlledShutdown of a stand-in controller refuses: handler tests never reach it.
func (f fakeController) ControlledShutdown(context.Context, int32, int64) ([]kmsg.ControlledShutdownResponsePartitionsRemaining, int16) {
	return nil, kerr.NotController.Code
}

// ElectLeaders of a stand-in controller refuses: handler tests never reach it.
func (f fakeController) ElectLeaders(context.Context, int8, []controller.TopicPartition) ([]controller.ElectionResult, int16) {
	return nil, kerr.NotController.Code
}

// AlterReassignments and ListReassignments of a stand-in controller refuse.
func (f fakeController) AlterReassignments(context.Context, map[controller.TopicPartition][]int32) ([]controller.ReassignResult, int16) {
	return nil, kerr.NotController.Code
}

func (f fakeController) ListReassignments(context.Context, []controller.TopicPartition) ([]controller.ReassignmentState, int16) {
	return nil, kerr.NotController.Code
}

// AlterISR of a stand-in controller refuses everything: handler tests never reach it.
func (f fakeController) AlterISR(_ context.Context, req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	resp := kmsg.NewPtrAlterPartitionResponse()
	resp.Version = req.Version
	resp.ErrorCode = kerr.NotController.Code
	return resp
}

func newTestHandler(t *testing.T, c *metadata.Cache, epoch int64) *Handler {
	t.Helper()
	cfg := config.Default()
	cfg.BrokerID = 1
	cfg.AutoCreateTopicsEnable = false
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	logs, err := klog.OpenManager(klog.ManagerOptions{Dirs: []string{t.TempDir()}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logs.Close() })
	replicas := replica.NewManager(replica.Options{BrokerID: 1, Logs: logs, Logger: quiet,
		LogConfig: func(string) (klog.Config, int32, error) { return klog.DefaultConfig(), 1, nil }})
	t.Cleanup(replicas.Shutdown)
	return New(Options{BrokerID: 1, ClusterID: "test-cluster", Config: cfg, Cache: c, Replicas: replicas,
		Controller: fakeController(false), BrokerEpoch: func() int64 { return epoch }, Logger: quiet})
}

func request(body kmsg.Request, version int16) *network.Request {
	body.SetVersion(version)
	return &network.Request{Key: body.Key(), Version: version, Body: body, Listener: "PLAINTEXT",
		RemoteAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}}
}

func handle[T kmsg.Response](t *testing.T, h *Handler, r *network.Request) T {
	t.Helper()
	resp, err := h.Handle(context.Background(), r)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(r.Key), err)
	}
	return resp.(T)
}

func strp(s string) *string { return &s }

func TestMetadataResponse(t *testing.T) {
	c := metadata.New()
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.Version, um.ControllerID = 7, 2
	um.LiveBrokers = []kmsg.UpdateMetadataRequestLiveBroker{
		{ID: 1, Endpoints: []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{{Host: "h1", Port: 9091, ListenerName: "PLAINTEXT"}}},
		{ID: 2, Rack: strp("r2"), Endpoints: []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{{Host: "h2", Port: 9092, ListenerName: "PLAINTEXT"}}},
		{ID: 3, Endpoints: []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{{Host: "i3", Port: 9093, ListenerName: "INTERNAL"}}},
	}
	id := [16]byte{7}
	um.TopicStates = []kmsg.UpdateMetadataRequestTopicState{{Topic: "t", TopicID: id, PartitionStates: []kmsg.UpdateMetadataRequestTopicPartition{
		{Partition: 0, Leader: 1, LeaderEpoch: 4, ISR: []int32{1, 2}, Replicas: []int32{1, 2}},
		{Partition: 1, Leader: -1, LeaderEpoch: 2, ISR: []int32{2}, Replicas: []int32{2, 9}, OfflineReplicas: []int32{9}},
		{Partition: 2, Leader: 3, LeaderEpoch: 1, ISR: []int32{3}, Replicas: []int32{3}},
	}}}
	h := newTestHandler(t, c, 10)
	if code := handle[*kmsg.UpdateMetadataResponse](t, h, request(um, 7)).ErrorCode; code != 0 {
		t.Fatalf("UpdateMetadata error %d", code)
	}

	for _, version := range []int16{1, 6, 9, 12} {
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{{Topic: strp("t")}, {Topic: strp("missing")}, {Topic: strp("bad name")}}
		resp := handle[*kmsg.MetadataResponse](t, h, request(req, version))
		if len(resp.Brokers) != 2 || resp.Brokers[0].NodeID != 1 || resp.Brokers[1].Rack == nil || *resp.Brokers[1].Rack != "r2" {
			t.Fatalf("v%d brokers %+v (broker 3 has no PLAINTEXT endpoint and must be left out)", version, resp.Brokers)
		}
		if resp.ControllerID != 2 || resp.ClusterID == nil || *resp.ClusterID != "test-cluster" {
			t.Fatalf("v%d controller %d cluster %v", version, resp.ControllerID, resp.ClusterID)
		}
		if len(resp.Topics) != 3 {
			t.Fatalf("v%d topics %+v", version, resp.Topics)
		}
		tt := resp.Topics[0]
		if tt.ErrorCode != 0 || tt.TopicID != id || len(tt.Partitions) != 3 || tt.AuthorizedOperations != authorizedOpsOmitted {
			t.Fatalf("v%d topic t %+v", version, tt)
		}
		p0, p1, p2 := tt.Partitions[0], tt.Partitions[1], tt.Partitions[2]
		if p0.ErrorCode != 0 || p0.Leader != 1 || p0.LeaderEpoch != 4 || len(p0.ISR) != 2 {
			t.Fatalf("v%d p0 %+v", version, p0)
		}
		if p1.ErrorCode != kerr.LeaderNotAvailable.Code || p1.Leader != -1 || len(p1.OfflineReplicas) != 1 {
			t.Fatalf("v%d p1 %+v", version, p1)
		}
		wantP2 := kerr.LeaderNotAvailable.Code
		if version >= 6 {
			wantP2 = kerr.ListenerNotFound.Code
		}
		if p2.ErrorCode != wantP2 || p2.Leader != -1 {
			t.Fatalf("v%d p2 (leader without PLAINTEXT endpoint) %+v", version, p2)
		}
		if resp.Topics[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("v%d missing topic code %d", version, resp.Topics[1].ErrorCode)
		}
		if resp.Topics[2].ErrorCode != kerr.InvalidTopicException.Code {
			t.Fatalf("v%d invalid topic code %d", version, resp.Topics[2].ErrorCode)
		}
	}

	// Null topic list = all topics; v0 empty list = all topics; v1+ empty list = none.
	all := kmsg.NewPtrMetadataRequest()
	if got := handle[*kmsg.MetadataResponse](t, h, request(all, 12)); len(got.Topics) != 1 {
		t.Fatalf("null topics: %d topics", len(got.Topics))
	}
	v0 := kmsg.NewPtrMetadataRequest()
	v0.Topics = []kmsg.MetadataRequestTopic{}
	if got := handle[*kmsg.MetadataResponse](t, h, request(v0, 0)); len(got.Topics) != 1 {
		t.Fatalf("v0 empty topics: %d topics", len(got.Topics))
	}
	none := kmsg.NewPtrMetadataRequest()
	none.Topics = []kmsg.MetadataRequestTopic{}
	if got := handle[*kmsg.MetadataResponse](t, h, request(none, 4)); len(got.Topics) != 0 {
		t.Fatalf("v4 empty topics: %d topics", len(got.Topics))
	}
	byID := kmsg.NewPtrMetadataRequest()
	byID.Topics = []kmsg.MetadataRequestTopic{{TopicID: id}, {TopicID: [16]byte{99}}}
	got := handle[*kmsg.MetadataResponse](t, h, request(byID, 12))
	if got.Topics[0].Topic == nil || *got.Topics[0].Topic != "t" || got.Topics[1].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("lookup by id: %+v", got.Topics)
	}
}

func TestControllerRequestFences(t *testing.T) {
	c := metadata.New()
	h := newTestHandler(t, c, 100)
	send := func(controllerEpoch int32, brokerEpoch int64) int16 {
		um := kmsg.NewPtrUpdateMetadataRequest()
		um.ControllerID, um.ControllerEpoch, um.BrokerEpoch = 1, controllerEpoch, brokerEpoch
		return handle[*kmsg.UpdateMetadataResponse](t, h, request(um, 7)).ErrorCode
	}
	for _, step := range []struct {
		name            string
		controllerEpoch int32
		brokerEpoch     int64
		want            *kerr.Error
	}{
		{"first", 5, 100, nil},
		{"older broker epoch", 5, 99, kerr.StaleBrokerEpoch},
		{"newer broker epoch is fine", 5, 101, nil},
		{"older controller", 4, 100, kerr.StaleControllerEpoch},
		{"newer controller", 6, 100, nil},
		{"the old one again", 5, 100, kerr.StaleControllerEpoch},
		{"no broker epoch (-1)", 6, -1, nil},
	} {
		want := int16(0)
		if step.want != nil {
			want = step.want.Code
		}
		if got := send(step.controllerEpoch, step.brokerEpoch); got != want {
			t.Fatalf("%s: code %d, want %v", step.name, got, step.want)
		}
	}
	if s := c.Snapshot(); s.ControllerEpoch != 6 {
		t.Fatalf("cache has controller epoch %d after the fenced requests", s.ControllerEpoch)
	}
}

func TestFetchIncrementalSessionUnknown(t *testing.T) {
	h := newTestHandler(t, metadata.New(), 1)
	req := kmsg.NewPtrFetchRequest()
	req.SessionID, req.SessionEpoch = 42, 3
	resp := handle[*kmsg.FetchResponse](t, h, request(req, 12))
	if resp.ErrorCode != kerr.FetchSessionIDNotFound.Code || resp.SessionID != 0 {
		t.Fatalf("incremental fetch: code %d session %d", resp.ErrorCode, resp.SessionID)
	}
	// A full sessionless fetch of an unknown partition answers per partition, session id 0.
	req = kmsg.NewPtrFetchRequest()
	req.SessionID, req.SessionEpoch = 0, -1
	req.Topics = []kmsg.FetchRequestTopic{{Topic: "nope", Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0}}}}
	resp = handle[*kmsg.FetchResponse](t, h, request(req, 12))
	if resp.ErrorCode != 0 || resp.SessionID != 0 || resp.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("full fetch: %+v", resp)
	}
	if p := resp.Topics[0].Partitions[0]; p.PreferredReadReplica != -1 || p.RecordBatches == nil || p.AbortedTransactions == nil {
		t.Fatalf("partition defaults: %+v", p)
	}
}

func TestProduceRejectedBeforeTheLog(t *testing.T) {
	h := newTestHandler(t, cacheWith(t, []int32{1}, map[string]int{"t": 1}), 1)
	good := batch(70, 2, 0)
	produce := func(acks int16, txn *string, topic string, records []byte) (*kmsg.ProduceResponse, error) {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TransactionID, req.TimeoutMillis = acks, txn, 1000
		req.Topics = []kmsg.ProduceRequestTopic{{Topic: topic, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: records}}}}
		resp, err := h.Handle(context.Background(), request(req, 9))
		if resp == nil {
			return nil, err
		}
		return resp.(*kmsg.ProduceResponse), err
	}
	for _, tc := range []struct {
		name    string
		acks    int16
		txn     *string
		topic   string
		records []byte
		want    *kerr.Error
	}{
		{"transactional", -1, strp("tx"), "t", good, kerr.TransactionalIDAuthorizationFailed},
		{"unknown topic", -1, nil, "other", good, kerr.UnknownTopicOrPartition},
		{"bad acks", 2, nil, "t", good, kerr.InvalidRequiredAcks},
		{"two batches", 1, nil, "t", append(append([]byte(nil), good...), good...), kerr.InvalidRecord},
		{"transactional batch without a transactional id", -1, nil, "t", batch(70, 2, attrTransactional), kerr.TransactionalIDAuthorizationFailed},
		{"control batch", -1, nil, "t", batch(70, 2, attrControl), kerr.InvalidRecord},
	} {
		resp, err := produce(tc.acks, tc.txn, tc.topic, tc.records)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != tc.want.Code || p.BaseOffset != -1 || p.LogStartOffset != -1 {
			t.Fatalf("%s: %+v, want %v", tc.name, p, tc.want)
		}
	}
	// A partition named twice: every entry refused, nothing handed to the log (this handler has
	// no replica manager, so reaching it would panic).
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 1000
	req.Topics = []kmsg.ProduceRequestTopic{
		{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: good}}},
		{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: good}}},
	}
	dup := handle[*kmsg.ProduceResponse](t, h, request(req, 9))
	if len(dup.Topics) != 2 {
		t.Fatalf("duplicate partition: %d topic entries, want one per request entry", len(dup.Topics))
	}
	for _, rt := range dup.Topics {
		if p := rt.Partitions[0]; p.ErrorCode != kerr.InvalidRecord.Code || p.BaseOffset != -1 {
			t.Fatalf("duplicate partition entry: %+v", p)
		}
	}

	// acks=0: no response, and a failure closes the connection (error returned).
	resp, err := produce(0, nil, "other", good)
	if resp != nil || err == nil {
		t.Fatalf("acks=0 failure: resp %v err %v, want nil response and an error", resp, err)
	}
}

func TestAdminRequestsNeedTheController(t *testing.T) {
	h := newTestHandler(t, cacheWith(t, []int32{1}, map[string]int{"t": 1}), 1)
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "a", NumPartitions: 1, ReplicationFactor: 1}}
	if got := handle[*kmsg.CreateTopicsResponse](t, h, request(ct, 7)); got.Topics[0].ErrorCode != kerr.NotController.Code {
		t.Fatalf("CreateTopics on a non-controller: %+v", got.Topics[0])
	}
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TopicNames = []string{"t"}
	if got := handle[*kmsg.DeleteTopicsResponse](t, h, request(dt, 4)); got.Topics[0].ErrorCode != kerr.NotController.Code {
		t.Fatalf("DeleteTopics on a non-controller: %+v", got.Topics[0])
	}
	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: "t", Count: 3}}
	if got := handle[*kmsg.CreatePartitionsResponse](t, h, request(cp, 3)); got.Topics[0].ErrorCode != kerr.NotController.Code {
		t.Fatalf("CreatePartitions on a non-controller: %+v", got.Topics[0])
	}
}

func TestInitProducerIDTransactional(t *testing.T) {
	h := newTestHandler(t, metadata.New(), 1)
	h.o.ProducerIDs = NewProducerIDs(func() (int64, int64, error) { return 1000, 1999, nil })
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = strp("tx-1")
	if got := handle[*kmsg.InitProducerIDResponse](t, h, request(req, 4)); got.ErrorCode != kerr.CoordinatorNotAvailable.Code || got.ProducerID != -1 {
		t.Fatalf("transactional: %+v", got)
	}
	req = kmsg.NewPtrInitProducerIDRequest()
	req.ProducerID, req.ProducerEpoch = 5, 3 // ignored without a transactional id, as in Kafka
	got := handle[*kmsg.InitProducerIDResponse](t, h, request(req, 4))
	if got.ErrorCode != 0 || got.ProducerID != 1000 || got.ProducerEpoch != 0 {
		t.Fatalf("idempotent: %+v", got)
	}
	if got2 := handle[*kmsg.InitProducerIDResponse](t, h, request(req, 4)); got2.ProducerID != 1001 {
		t.Fatalf("second id %d", got2.ProducerID)
	}
}
