package api

import (
	"context"
	"fmt"
	"sync"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/fetchsession"
	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/network"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/broker/topicstats"
	"github.com/gregor-broker/gregor/config"
	"github.com/gregor-broker/gregor/controller"
	"github.com/gregor-broker/gregor/zkmeta"
)

// Served lists every API version this package answers; the broker hands exactly this to
// network.Options.Served (ApiVersions itself is answered by the network at 0–3).
var Served = []network.APIRange{
	{Key: 0, Min: 3, Max: 9},  // Produce
	{Key: 1, Min: 4, Max: 12}, // Fetch
	{Key: 2, Min: 1, Max: 7},  // ListOffsets
	{Key: 3, Min: 0, Max: 12}, // Metadata
	{Key: 4, Min: 0, Max: 7},  // LeaderAndIsr
	{Key: 5, Min: 0, Max: 4},  // StopReplica
	{Key: 6, Min: 0, Max: 8},  // UpdateMetadata
	{Key: 7, Min: 1, Max: 3},  // ControlledShutdown
	{Key: 8, Min: 0, Max: 8},  // OffsetCommit
	{Key: 9, Min: 0, Max: 8},  // OffsetFetch
	{Key: 10, Min: 0, Max: 4}, // FindCoordinator
	{Key: 11, Min: 0, Max: 9}, // JoinGroup
	{Key: 12, Min: 0, Max: 4}, // Heartbeat
	{Key: 13, Min: 0, Max: 5}, // LeaveGroup
	{Key: 14, Min: 0, Max: 5}, // SyncGroup
	{Key: 15, Min: 0, Max: 5}, // DescribeGroups
	{Key: 16, Min: 0, Max: 4}, // ListGroups
	{Key: 18, Min: 0, Max: 3}, // ApiVersions (answered by the network)
	{Key: 19, Min: 0, Max: 7}, // CreateTopics
	{Key: 20, Min: 0, Max: 6}, // DeleteTopics
	{Key: 21, Min: 0, Max: 2}, // DeleteRecords
	{Key: 22, Min: 0, Max: 4}, // InitProducerId
	{Key: 23, Min: 0, Max: 4}, // OffsetForLeaderEpoch
	{Key: 32, Min: 0, Max: 4}, // DescribeConfigs
	{Key: 33, Min: 0, Max: 2}, // AlterConfigs
	{Key: 37, Min: 0, Max: 3}, // CreatePartitions
	{Key: 42, Min: 0, Max: 2}, // DeleteGroups
	{Key: 43, Min: 0, Max: 2}, // ElectLeaders
	{Key: 44, Min: 0, Max: 1}, // IncrementalAlterConfigs
	{Key: 45, Min: 0, Max: 0}, // AlterPartitionReassignments
	{Key: 46, Min: 0, Max: 0}, // ListPartitionReassignments
	{Key: 47, Min: 0, Max: 0}, // OffsetDelete
	{Key: 56, Min: 0, Max: 0}, // AlterIsr (Kafka 2.8's inter-broker version)
	{Key: 60, Min: 0, Max: 0}, // DescribeCluster
}

// Controller is what the handlers need from the controller module.
type Controller interface {
	// IsActive reports whether this broker is the active controller; admin requests that
	// Kafka runs on the controller broker answer NOT_CONTROLLER otherwise.
	IsActive() bool
	// AlterISR applies a partition leader's ISR change (only on the active controller).
	AlterISR(ctx context.Context, req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse
	// ControlledShutdown moves leadership off a broker that is shutting down (active controller
	// only) and returns the replicated partitions it still leads and an error code.
	ControlledShutdown(ctx context.Context, brokerID int32, brokerEpoch int64) ([]kmsg.ControlledShutdownResponsePartitionsRemaining, int16)
	// ElectLeaders runs preferred or unclean elections (active controller only).
	ElectLeaders(ctx context.Context, kind int8, parts []controller.TopicPartition) ([]controller.ElectionResult, int16)
	// AlterReassignments starts or cancels partition moves; ListReassignments lists them.
	AlterReassignments(ctx context.Context, reqs map[controller.TopicPartition][]int32) ([]controller.ReassignResult, int16)
	ListReassignments(ctx context.Context, parts []controller.TopicPartition) ([]controller.ReassignmentState, int16)
}

// Options are the Handler's collaborators. All are required except Logger.
type Options struct {
	BrokerID  int32
	ClusterID string
	Config    *config.Broker
	Cache     *metadata.Cache
	Replicas  *replica.Manager
	ZK        *zkmeta.Client
	// Controller answers IsActive; in a single-broker cluster this broker is the controller.
	Controller Controller
	// BrokerEpoch returns this broker's current registration epoch (czxid of /brokers/ids/<id>);
	// controller requests carrying an older epoch are answered STALE_BROKER_EPOCH.
	BrokerEpoch func() int64
	// ProducerIDs hands out producer ids for InitProducerId.
	ProducerIDs *ProducerIDs
	// Groups is the group coordinator: the group APIs and the __consumer_offsets leadership
	// hooks of LeaderAndIsr and StopReplica.
	Groups *group.Coordinator
	// Traffic counts client records and bytes per topic (Kafka's BrokerTopicMetrics); nil
	// counts nothing.
	Traffic *topicstats.Stats
	// FetchSessions holds the incremental fetch sessions (KIP-227); nil answers every Fetch
	// without one.
	FetchSessions *fetchsession.Cache
	Logger        logrus.FieldLogger
}

// Handler answers every served request. Create it with New.
type Handler struct {
	o   Options
	log logrus.FieldLogger

	stateMu         sync.Mutex // serializes LeaderAndIsr / UpdateMetadata / StopReplica; guards controllerEpoch
	controllerEpoch int32      // highest controller epoch accepted so far

	sessions *fetchsession.Cache // Options.FetchSessions, or one that opens none
}

var _ network.Handler = (*Handler)(nil)

// New returns a Handler over o.
func New(o Options) *Handler {
	log := o.Logger
	if log == nil {
		log = logrus.StandardLogger()
	}
	sessions := o.FetchSessions
	if sessions == nil {
		sessions = fetchsession.New(fetchsession.Options{})
	}
	return &Handler{o: o, log: log, sessions: sessions}
}

// Handle dispatches on the request type. A returned error closes the connection (network
// contract); handlers return errors only where Kafka closes the connection (acks=0 produce
// failures) or for a request type we do not serve.
func (h *Handler) Handle(ctx context.Context, r *network.Request) (kmsg.Response, error) {
	switch req := r.Body.(type) {
	case *kmsg.ProduceRequest:
		return h.produce(ctx, r, req)
	case *kmsg.FetchRequest:
		return h.fetch(ctx, r, req)
	case *kmsg.ListOffsetsRequest:
		return h.listOffsets(ctx, r, req), nil
	case *kmsg.MetadataRequest:
		return h.metadata(ctx, r, req), nil
	case *kmsg.LeaderAndISRRequest:
		return h.leaderAndISR(r, req), nil
	case *kmsg.StopReplicaRequest:
		return h.stopReplica(r, req), nil
	case *kmsg.UpdateMetadataRequest:
		return h.updateMetadata(r, req), nil
	case *kmsg.CreateTopicsRequest:
		return h.createTopics(ctx, r, req), nil
	case *kmsg.DeleteTopicsRequest:
		return h.deleteTopics(ctx, r, req), nil
	case *kmsg.DeleteRecordsRequest:
		return h.deleteRecords(ctx, r, req), nil
	case *kmsg.InitProducerIDRequest:
		return h.initProducerID(r, req), nil
	case *kmsg.DescribeConfigsRequest:
		return h.describeConfigs(r, req), nil
	case *kmsg.AlterConfigsRequest:
		return h.alterConfigs(r, req), nil
	case *kmsg.CreatePartitionsRequest:
		return h.createPartitions(ctx, r, req), nil
	case *kmsg.IncrementalAlterConfigsRequest:
		return h.incrementalAlterConfigs(r, req), nil
	case *kmsg.OffsetForLeaderEpochRequest:
		return h.offsetForLeaderEpoch(ctx, r, req), nil
	case *kmsg.AlterPartitionAssignmentsRequest:
		return h.alterPartitionReassignments(ctx, r, req), nil
	case *kmsg.ListPartitionReassignmentsRequest:
		return h.listPartitionReassignments(ctx, r, req), nil
	case *kmsg.ElectLeadersRequest:
		return h.electLeaders(ctx, r, req), nil
	case *kmsg.ControlledShutdownRequest:
		return h.controlledShutdown(ctx, r, req), nil
	case *kmsg.AlterPartitionRequest:
		return h.alterISR(ctx, r, req), nil
	case *kmsg.DescribeClusterRequest:
		return h.describeCluster(ctx, r, req), nil
	case *kmsg.FindCoordinatorRequest:
		return h.findCoordinator(ctx, r, req), nil
	case *kmsg.JoinGroupRequest:
		return h.joinGroup(ctx, r, req), nil
	case *kmsg.SyncGroupRequest:
		return h.syncGroup(ctx, r, req), nil
	case *kmsg.HeartbeatRequest:
		return h.heartbeat(r, req), nil
	case *kmsg.LeaveGroupRequest:
		return h.leaveGroup(r, req), nil
	case *kmsg.OffsetCommitRequest:
		return h.offsetCommit(ctx, r, req), nil
	case *kmsg.OffsetFetchRequest:
		return h.offsetFetch(r, req), nil
	case *kmsg.ListGroupsRequest:
		return h.listGroups(r, req), nil
	case *kmsg.DescribeGroupsRequest:
		return h.describeGroups(r, req), nil
	case *kmsg.DeleteGroupsRequest:
		return h.deleteGroups(ctx, r, req), nil
	case *kmsg.OffsetDeleteRequest:
		return h.offsetDelete(ctx, r, req), nil
	}
	// The network only hands us what Served lists, so this is a programming error.
	return nil, fmt.Errorf("no handler for %s (key %d)", kmsg.NameForKey(r.Key), r.Key)
}

// reqLog is the logger for one request.
func (h *Handler) reqLog(r *network.Request) logrus.FieldLogger {
	return h.log.WithFields(logrus.Fields{"api": kmsg.NameForKey(r.Key), "version": r.Version,
		"client_id": r.ClientID, "remote": r.RemoteAddr})
}
