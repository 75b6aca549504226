package api

import (
	"context"
	"fmt"
	"sync"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/network"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/config"
	"github.com/gregor-broker/gregor/zkmeta"
)

// Served lists every API version this package answers; the broker hands exactly this to
// network.Options.Served (ApiVersions itself is answered by the network at 0–3).
// FindCoordinator and the group APIs are deliberately absent until the group coordinator exists.
var Served = []network.APIRange{
	{Key: 0, Min: 3, Max: 9},  // Produce
	{Key: 1, Min: 4, Max: 12}, // Fetch
	{Key: 2, Min: 1, Max: 7},  // ListOffsets
	{Key: 3, Min: 0, Max: 12}, // Metadata
	{Key: 4, Min: 0, Max: 7},  // LeaderAndIsr
	{Key: 5, Min: 0, Max: 4},  // StopReplica
	{Key: 6, Min: 0, Max: 8},  // UpdateMetadata
	{Key: 18, Min: 0, Max: 3}, // ApiVersions (answered by the network)
	{Key: 19, Min: 0, Max: 7}, // CreateTopics
	{Key: 20, Min: 0, Max: 6}, // DeleteTopics
	{Key: 21, Min: 0, Max: 2}, // DeleteRecords
	{Key: 22, Min: 0, Max: 4}, // InitProducerId
	{Key: 32, Min: 0, Max: 4}, // DescribeConfigs
	{Key: 33, Min: 0, Max: 2}, // AlterConfigs
	{Key: 37, Min: 0, Max: 3}, // CreatePartitions
	{Key: 44, Min: 0, Max: 1}, // IncrementalAlterConfigs
	{Key: 60, Min: 0, Max: 0}, // DescribeCluster
}

// Controller is what the handlers need from the controller module.
type Controller interface {
	// IsActive reports whether this broker is the active controller; admin requests that
	// Kafka runs on the controller broker answer NOT_CONTROLLER otherwise.
	IsActive() bool
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
	Logger      logrus.FieldLogger
}

// Handler answers every served request. Create it with New.
type Handler struct {
	o   Options
	log logrus.FieldLogger

	stateMu         sync.Mutex // serializes LeaderAndIsr / UpdateMetadata / StopReplica; guards controllerEpoch
	controllerEpoch int32      // highest controller epoch accepted so far
}

var _ network.Handler = (*Handler)(nil)

// New returns a Handler over o.
func New(o Options) *Handler {
	log := o.Logger
	if log == nil {
		log = logrus.StandardLogger()
	}
	return &Handler{o: o, log: log}
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
	case *kmsg.DescribeClusterRequest:
		return h.describeCluster(ctx, r, req), nil
	}
	// The network only hands us what Served lists, so this is a programming error.
	return nil, fmt.Errorf("no handler for %s (key %d)", kmsg.NameForKey(r.Key), r.Key)
}

// reqLog is the logger for one request.
func (h *Handler) reqLog(r *network.Request) logrus.FieldLogger {
	return h.log.WithFields(logrus.Fields{"api": kmsg.NameForKey(r.Key), "version": r.Version,
		"client_id": r.ClientID, "remote": r.RemoteAddr})
}
