package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/api"
	"github.com/gregor-broker/gregor/broker/clusterview"
	"github.com/gregor-broker/gregor/broker/fetchsession"
	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/interbroker"
	klog "github.com/gregor-broker/gregor/broker/log"
	"github.com/gregor-broker/gregor/broker/log/vfs"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/network"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/broker/topicstats"
	"github.com/gregor-broker/gregor/config"
	"github.com/gregor-broker/gregor/controller"
	"github.com/gregor-broker/gregor/zkmeta"
)

// Broker is one broker: create with New, then Start; Shutdown stops it; Wait blocks until then.
type Broker struct {
	cfg      *config.Broker
	log      logrus.FieldLogger // carries broker=<id>
	registry *prometheus.Registry

	// Set by Start before any goroutine starts, read-only afterwards (nil before Start).
	zk         *zkmeta.Client
	clusterID  string
	logs       *klog.Manager
	replicas   *replica.Manager
	groups     *group.Coordinator
	cache      *metadata.Cache
	handler    *api.Handler
	server     *network.Server
	ctrl       *controller.Controller
	metricsSrv *http.Server
	traffic    *topicstats.Stats   // client traffic per topic (Kafka's BrokerTopicMetrics)
	sessions   *fetchsession.Cache // incremental fetch sessions (KIP-227)
	view       *clusterview.View   // the cluster page on the metrics port (nil when it is off)
	endpoints  []zkmeta.Endpoint   // what RegisterBroker publishes (advertised, bound ports filled in)
	faults     *vfs.Faulty         // the log dirs' file system with gregor.test.fault.injection, else nil

	epoch      atomic.Int64  // current registration epoch (czxid of /brokers/ids/<id>)
	serving    atomic.Bool   // Start completed: a shutdown from here on is a controlled one
	rearmWatch chan struct{} // sessionLoop → configLoop: re-read /config/changes (buffered 1)

	stop     chan struct{} // closed by Shutdown: stops sessionLoop and configLoop
	wg       sync.WaitGroup
	done     chan struct{} // closed when Shutdown has finished
	stopOnce sync.Once

	mu      sync.Mutex // guards started, stopErr
	started bool
	stopErr error
}

// New validates what Start will need; nothing is opened yet.
func New(cfg *config.Broker, log *logrus.Logger) (*Broker, error) {
	if cfg == nil {
		return nil, errors.New("broker: nil config")
	}
	if log == nil {
		log = logrus.StandardLogger()
	}
	if cfg.BrokerID < 0 {
		return nil, fmt.Errorf("broker.id %d: must be >= 0", cfg.BrokerID)
	}
	if len(cfg.Listeners) == 0 {
		return nil, errors.New("listeners: none configured")
	}
	if cfg.ZookeeperConnect == "" {
		return nil, errors.New("zookeeper.connect: required")
	}
	if len(cfg.LogDirs) == 0 {
		return nil, errors.New("log.dirs: none configured")
	}
	return &Broker{
		cfg:        cfg,
		log:        log.WithField("broker", cfg.BrokerID),
		registry:   prometheus.NewRegistry(),
		rearmWatch: make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}, nil
}

// Start brings the broker up in Kafka's order (zk-layout.md §2): ZooKeeper session and
// persistent paths, cluster id, log directories (meta.properties checked against the cluster
// id and broker id), log manager, replica manager, network server, metrics, registration in
// /brokers/ids, producer-id block, controller, config-change listener. On error everything
// opened so far is closed again.
func (b *Broker) Start(ctx context.Context) (err error) {
	b.mu.Lock()
	if b.started {
		b.mu.Unlock()
		return errors.New("broker already started")
	}
	b.started = true
	b.mu.Unlock()
	defer func() {
		if err != nil {
			b.log.WithError(err).Error("startup failed; closing what was opened")
			b.shutdownOnce()
		}
	}()
	cfg := b.cfg
	log := b.log

	sessionTimeout := time.Duration(cfg.ZookeeperSessionTimeoutMs) * time.Millisecond
	if sessionTimeout <= 0 {
		sessionTimeout = 18 * time.Second
	}
	connTimeout := time.Duration(cfg.ZookeeperConnectionTimeoutMs) * time.Millisecond
	if connTimeout <= 0 {
		connTimeout = sessionTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, connTimeout)
	b.zk, err = zkmeta.Connect(cctx, cfg.ZookeeperConnect, sessionTimeout, zkmeta.WithLogger(log),
		zkmeta.WithReaderSessions(1)) // the controller's failover reads every partition's state
	cancel()
	if err != nil {
		return fmt.Errorf("connect to ZooKeeper %s: %w", cfg.ZookeeperConnect, err)
	}
	if err = b.zk.EnsurePaths(); err != nil {
		return fmt.Errorf("create ZooKeeper paths: %w", err)
	}
	if b.clusterID, err = b.zk.GetOrCreateClusterID(); err != nil {
		return fmt.Errorf("cluster id: %w", err)
	}
	log = log.WithField("cluster_id", b.clusterID)
	b.log = log

	defaults, _, err := b.topicLogConfigFrom(nil)
	if err != nil {
		return fmt.Errorf("log defaults: %w", err)
	}
	var fs vfs.FS // nil: the OS
	if cfg.TestFaultInjection {
		b.faults = vfs.NewFaulty(vfs.OS)
		fs = b.faults
		log.Warn("gregor.test.fault.injection is on: a TEST SEAM — disk failures can be injected at /faults on the metrics port")
	}
	if b.logs, err = klog.OpenManager(klog.ManagerOptions{
		FS:                     fs,
		Dirs:                   cfg.LogDirs,
		Default:                defaults,
		RetentionCheckInterval: msDuration(cfg.LogRetentionCheckIntervalMs),
		FlushCheckInterval:     msDuration(cfg.LogFlushSchedulerIntervalMs),
		CheckpointInterval:     msDuration(cfg.LogFlushOffsetCheckpointIntervalMs),
		Logger:                 log,
		Cleaner: klog.CleanerConfig{
			Enable:           cfg.LogCleanerEnable,
			Threads:          int(cfg.LogCleanerThreads),
			DedupeBufferSize: cfg.LogCleanerDedupeBufferSize,
			LoadFactor:       cfg.LogCleanerIOBufferLoadFactor,
			Backoff:          msDuration(cfg.LogCleanerBackoffMs),
		},
	}); err != nil {
		return fmt.Errorf("open log dirs %v: %w", cfg.LogDirs, err)
	}
	if err = b.logs.CheckMetaProperties(b.clusterID, cfg.BrokerID); err != nil {
		return fmt.Errorf("log dirs do not belong to cluster %s / broker %d: %w", b.clusterID, cfg.BrokerID, err)
	}
	b.logs.Start()
	b.registerLogDirMetrics()
	b.cache = metadata.New()
	b.replicas = replica.NewManager(replica.Options{
		BrokerID:          cfg.BrokerID,
		Logs:              b.logs,
		Logger:            log,
		LogConfig:         b.topicLogConfig,
		ReplicaLagTimeMax: msDuration(cfg.ReplicaLagTimeMaxMs),
		QuotaWindows:      int(cfg.ReplicationQuotaWindowNum),
		QuotaWindowSize:   time.Duration(cfg.ReplicationQuotaWindowSizeSeconds) * time.Second,
		Fetch: replica.FetcherConfig{
			NumFetchers:      int(cfg.NumReplicaFetchers),
			MaxBytes:         cfg.ReplicaFetchMaxBytes,
			ResponseMaxBytes: cfg.ReplicaFetchResponseMaxBytes,
			MaxWait:          msDuration(int64(cfg.ReplicaFetchWaitMaxMs)),
			MinBytes:         cfg.ReplicaFetchMinBytes,
			Backoff:          msDuration(int64(cfg.ReplicaFetchBackoffMs)),
		},
		InterBroker: interbroker.Options{
			RequestTimeout: msDuration(int64(cfg.ReplicaSocketTimeoutMs)),
			Logger:         log,
		},
		BrokerEpoch: b.epoch.Load,
		Controller:  b.controllerEndpoint,
		RackAware:   strings.HasSuffix(cfg.ReplicaSelectorClass, ".RackAwareReplicaSelector"),
		RackOf:      b.rackOf,
		Registerer:  b.registry,
	})

	b.groups = group.New(group.Options{
		BrokerID:   cfg.BrokerID,
		Config:     groupConfig(cfg),
		Replicas:   b.replicas,
		Logs:       b.logs,
		Partitions: b.offsetsPartitions,
		Logger:     log,
	})
	b.groups.Start()
	b.ctrl = controller.New(controller.Options{
		BrokerID:                     cfg.BrokerID,
		ZK:                           b.zk,
		Logger:                       log,
		DeleteTopicEnable:            cfg.DeleteTopicEnable,
		UncleanLeaderElectionEnable:  cfg.UncleanLeaderElectionEnable,
		InterBrokerListener:          b.interBrokerListener(),
		SocketTimeout:                msDuration(int64(cfg.ControllerSocketTimeoutMs)),
		AutoLeaderRebalance:          cfg.AutoLeaderRebalanceEnable,
		LeaderImbalanceCheckInterval: time.Duration(cfg.LeaderImbalanceCheckIntervalSeconds) * time.Second,
		LeaderImbalancePercentage:    cfg.LeaderImbalancePerBrokerPercentage,
	})
	producerIDs := api.NewProducerIDs(func() (int64, int64, error) {
		return b.zk.AllocateProducerIDBlock(cfg.BrokerID)
	})
	b.traffic = b.newTraffic()
	b.sessions = fetchsession.New(fetchsession.Options{Slots: int(cfg.MaxIncrementalFetchSessionCacheSlots)})
	b.handler = api.New(api.Options{
		BrokerID:      cfg.BrokerID,
		ClusterID:     b.clusterID,
		Config:        cfg,
		Cache:         b.cache,
		Replicas:      b.replicas,
		ZK:            b.zk,
		Controller:    b.ctrl,
		BrokerEpoch:   b.epoch.Load,
		ProducerIDs:   producerIDs,
		Groups:        b.groups,
		Traffic:       b.traffic,
		FetchSessions: b.sessions,
		Logger:        log,
	})

	var specs []network.ListenerSpec
	for _, l := range cfg.Listeners {
		specs = append(specs, network.ListenerSpec{Name: l.Name, Addr: net.JoinHostPort(l.Host, fmt.Sprint(l.Port))})
	}
	perIP := int(cfg.MaxConnectionsPerIP)
	if perIP == 0 {
		perIP = network.NoConnections // Kafka's 0: only the overridden addresses
	}
	b.server = network.NewServer(network.Options{
		Listeners:                    specs,
		MaxRequestBytes:              cfg.SocketRequestMaxBytes,
		IdleTimeout:                  msDuration(cfg.ConnectionsMaxIdleMs),
		MaxConnections:               int(cfg.MaxConnections),
		MaxConnectionsPerIP:          perIP,
		MaxConnectionsPerIPOverrides: cfg.MaxConnectionsPerIPOverrides,
		ProtectedListener:            cfg.InterBrokerListenerName,
		QueuedMaxRequests:            int(cfg.QueuedMaxRequests),
		QueuedMaxRequestBytes:        cfg.QueuedMaxRequestBytes,
		Served:                       api.Served,
		// A connection's commits are applied in the order sent (Kafka serialises a
		// connection's requests), so a later commit never lands before an earlier one.
		Ordered: []int16{0, 8}, // Produce, OffsetCommit
		// Produce keeps nothing of its frame once its handler returns (the records are in the
		// log by then): its frames are pooled instead of being garbage.
		Recycled: []int16{0},
		// Produce is handled on the reader itself, with no goroutine hand-off, as Kafka handles
		// each request; an acks=all one that must wait for followers hands the reading on.
		Inline:     inlineRequest,
		Logger:     log,
		Registerer: b.registry,
	}, b.handler)
	if err = b.server.Start(); err != nil {
		return fmt.Errorf("start network server: %w", err)
	}
	if err = b.startMetrics(); err != nil {
		return err
	}

	if b.endpoints, err = b.advertisedEndpoints(); err != nil {
		return err
	}
	if err = b.register(); err != nil {
		return err
	}
	// Kafka 2.8 reserves a producer-id block at startup (zk-layout.md §1.15).
	if err = producerIDs.Init(); err != nil {
		return err
	}
	b.ctrl.Start()

	b.wg.Add(3)
	go b.sessionLoop()
	go b.configLoop()
	go b.logDirFailureLoop()

	// The broker is serving; give the controller a moment to send the first UpdateMetadata so
	// that clients connecting right after Start see the cluster (not required for correctness:
	// handlers that need metadata wait for it themselves).
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	_, ok := b.cache.WaitFor(wctx, func(s *metadata.Snapshot) bool { return s.IsAlive(cfg.BrokerID) })
	wcancel()
	if !ok {
		log.Warn("no UpdateMetadata from the controller yet; serving with an empty metadata cache")
	}
	b.serving.Store(true)
	log.WithField("epoch", b.epoch.Load()).Info("broker started")
	return nil
}

// register publishes /brokers/ids/<id> and records the epoch.
func (b *Broker) register() error {
	info := zkmeta.BrokerInfo{
		ID:        b.cfg.BrokerID,
		Endpoints: b.endpoints,
		Rack:      b.cfg.BrokerRack,
		JMXPort:   -1,
		Timestamp: time.Now().UnixMilli(),
	}
	epoch, err := b.zk.RegisterBroker(info)
	if errors.Is(err, zkmeta.ErrBrokerIDInUse) {
		// Restarted right after a crash, the previous process's registration lives until
		// ZooKeeper expires its session. Wait that long (on a watch) before deciding that a live
		// broker holds the id; a live one's registration never disappears.
		wait := time.Duration(b.cfg.ZookeeperSessionTimeoutMs)*time.Millisecond + 2*time.Second
		b.log.WithField("wait", wait).Warn("broker id is registered; waiting for a dead predecessor's session to expire")
		if werr := b.zk.WaitBrokerIDFree(b.cfg.BrokerID, wait); werr == nil {
			info.Timestamp = time.Now().UnixMilli()
			epoch, err = b.zk.RegisterBroker(info)
		}
	}
	if errors.Is(err, zkmeta.ErrBrokerIDInUse) {
		return fmt.Errorf("broker id %d is already registered by a live broker: %w", b.cfg.BrokerID, err)
	}
	if err != nil {
		return fmt.Errorf("register broker %d: %w", b.cfg.BrokerID, err)
	}
	b.epoch.Store(epoch)
	b.log.WithField("epoch", epoch).Info("registered in /brokers/ids")
	return nil
}

// Shutdown stops the broker cleanly in Kafka's order: network (no new requests; in-flight ones
// cancelled and awaited), background loops, controller (resigns), replica manager, logs
// (flush, checkpoints, clean-shutdown markers), ZooKeeper session (the ephemeral registration
// disappears at once). Safe to call more than once; returns the first Shutdown's result.
func (b *Broker) Shutdown() error {
	b.shutdownOnce()
	return b.Wait()
}

func (b *Broker) shutdownOnce() {
	b.stopOnce.Do(func() {
		b.log.Info("shutting down")
		err := b.closeAll()
		if err == nil {
			b.log.Info("shut down cleanly")
		} else {
			b.log.WithError(err).Error("shutdown finished with errors")
		}
		b.finish(err)
	})
}

// closeAll stops whatever Start opened, in shutdown order.
func (b *Broker) closeAll() error {
	var errs []error
	if b.serving.Load() {
		b.controlledShutdown()
	}
	close(b.stop) // closeAll runs once, under stopOnce
	if b.server != nil {
		if err := b.server.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close network: %w", err))
		}
	}
	b.wg.Wait()
	if b.metricsSrv != nil {
		if err := b.metricsSrv.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close metrics listener: %w", err))
		}
	}
	if b.view != nil {
		b.view.Close()
	}
	if b.ctrl != nil {
		b.ctrl.Stop()
	}
	if b.groups != nil {
		b.groups.Shutdown()
	}
	if b.replicas != nil {
		b.replicas.Shutdown()
	}
	if b.logs != nil {
		if err := b.logs.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close logs: %w", err))
		}
	}
	if b.zk != nil {
		b.zk.Close()
	}
	return errors.Join(errs...)
}

// finish records the final error and releases Wait.
func (b *Broker) finish(err error) {
	b.mu.Lock()
	b.stopErr = err
	b.mu.Unlock()
	close(b.done) // finish runs once, under stopOnce
}

// Addr is the bound address of the named listener (nil before Start or for an unknown name).
func (b *Broker) Addr(listener string) net.Addr {
	if b.server == nil {
		return nil
	}
	return b.server.Addr(listener)
}

// Wait blocks until the broker has stopped and returns Shutdown's result.
func (b *Broker) Wait() error {
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stopErr
}

// ClusterID is the cluster id read or created at Start.
func (b *Broker) ClusterID() string { return b.clusterID }

// Epoch is the current broker epoch (czxid of the registration znode).
func (b *Broker) Epoch() int64 { return b.epoch.Load() }

// msDuration converts a millisecond config value; values too large for a Duration (Kafka's
// Long.MaxValue "never") become the largest Duration.
func msDuration(ms int64) time.Duration {
	const maxMs = int64(1<<63-1) / int64(time.Millisecond)
	if ms > maxMs {
		return time.Duration(1<<63 - 1)
	}
	return time.Duration(ms) * time.Millisecond
}

// groupConfig is the coordinator's view of the broker config.
func groupConfig(cfg *config.Broker) group.Config {
	return group.Config{
		MinSessionTimeoutMs:      cfg.GroupMinSessionTimeoutMs,
		MaxSessionTimeoutMs:      cfg.GroupMaxSessionTimeoutMs,
		InitialRebalanceDelayMs:  cfg.GroupInitialRebalanceDelayMs,
		MaxSize:                  cfg.GroupMaxSize,
		CommitRequiredAcks:       cfg.OffsetsCommitRequiredAcks,
		CommitTimeoutMs:          cfg.OffsetsCommitTimeoutMs,
		RetentionMs:              int64(cfg.OffsetsRetentionMinutes) * 60_000,
		RetentionCheckIntervalMs: cfg.OffsetsRetentionCheckIntervalMs,
		LoadBufferSize:           cfg.OffsetsLoadBufferSize,
		MetadataMaxBytes:         cfg.OffsetMetadataMaxBytes,
	}
}

// offsetsPartitions is the partition count of __consumer_offsets: the topic's once it exists,
// offsets.topic.num.partitions before (what it will be created with).
func (b *Broker) offsetsPartitions() int32 {
	if t, ok := b.cache.Snapshot().Topic(group.OffsetsTopic); ok && len(t.Partitions) > 0 {
		return int32(len(t.Partitions))
	}
	return b.cfg.OffsetsTopicNumPartitions
}

// inlineRequest names the requests handled on the reader (network.Options.Inline): Produce,
// which validates and appends and answers, and calls network.Parked before it waits for
// followers (acks=all with an ISR of more than one).
func inlineRequest(key int16, _ kmsg.Request) bool { return key == 0 }
