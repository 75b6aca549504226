package zkmeta

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Kafka's paths, relative to the chroot.
const (
	brokerIDsPath       = "/brokers/ids"
	brokerTopicsPath    = "/brokers/topics"
	controllerPath      = "/controller"
	controllerEpochPath = "/controller_epoch"
	clusterIDPath       = "/cluster/id"
	configTopicsPath    = "/config/topics"
	configBrokersPath   = "/config/brokers"
	configChangesPath   = "/config/changes"
	deleteTopicsPath    = "/admin/delete_topics"
	preferredElectPath  = "/admin/preferred_replica_election"
	reassignPath        = "/admin/reassign_partitions"
	producerIDBlockPath = "/latest_producer_id_block"
	featurePath         = "/feature"
	producerIDBlockSize = 1000
	configChangePrefix  = "config_change_"
)

// persistentPaths are created at startup in Kafka's order (KafkaZkClient.createTopLevelPaths).
var persistentPaths = []string{"/consumers", brokerIDsPath, brokerTopicsPath, configChangesPath, deleteTopicsPath,
	"/brokers/seqid", "/isr_change_notification", producerIDBlockPath, "/log_dir_event_notification",
	configTopicsPath, "/config/clients", "/config/users", configBrokersPath, "/config/ips"}

// EnsurePaths creates Kafka's persistent top-level paths (null data) where missing.
func (c *Client) EnsurePaths() error {
	for _, p := range persistentPaths {
		if err := createRecursive(c.conn, c.p(p)); err != nil {
			return fmt.Errorf("create %s: %w", p, err)
		}
	}
	return nil
}

// GetOrCreateClusterID reads /cluster/id, creating it with a fresh id if it is missing (the
// first broker of a cluster does); a race with another broker reads the winner's id.
func (c *Client) GetOrCreateClusterID() (string, error) {
	for attempt := 0; attempt < 3; attempt++ {
		data, _, err := c.conn.Get(c.p(clusterIDPath))
		if err == nil {
			return DecodeClusterID(data)
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return "", wrap("get", clusterIDPath, err)
		}
		if err := createRecursive(c.conn, c.p("/cluster")); err != nil {
			return "", wrap("create", "/cluster", err)
		}
		_, err = c.conn.Create(c.p(clusterIDPath), encodeClusterID(UUIDString(NewUUID())), 0, openACL)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return "", wrap("create", clusterIDPath, err)
		}
	}
	return "", fmt.Errorf("/cluster/id: could not create or read it")
}

// RegisterBroker creates the ephemeral /brokers/ids/<id> as Kafka does (one multi: create with
// null data, then setData, so its dataVersion is 1) and returns the broker epoch (its czxid).
func (c *Client) RegisterBroker(b BrokerInfo) (int64, error) {
	p := c.p(fmt.Sprintf("%s/%d", brokerIDsPath, b.ID))
	if b.Timestamp == 0 {
		b.Timestamp = time.Now().UnixMilli()
	}
	for attempt := 0; attempt < 2; attempt++ {
		_, err := c.multi(nil,
			&zk.CreateRequest{Path: p, Data: nil, Acl: openACL, Flags: zk.FlagEphemeral},
			&zk.SetDataRequest{Path: p, Data: EncodeBroker(b), Version: 0})
		if err == nil {
			_, st, err := c.conn.Get(p)
			if err != nil {
				return 0, wrap("get", p, err)
			}
			return st.Czxid, nil
		}
		if !errors.Is(err, zk.ErrNodeExists) {
			return 0, wrap("register", p, err)
		}
		_, st, gerr := c.conn.Get(p)
		if gerr == nil && st.EphemeralOwner == c.conn.SessionID() {
			// Our own node from a retried request: replace it.
			_ = c.conn.Delete(p, -1)
			continue
		}
		return 0, fmt.Errorf("register %s: %w", p, ErrBrokerIDInUse)
	}
	return 0, fmt.Errorf("register %s: %w", p, ErrBrokerIDInUse)
}

// GetBroker reads one registration, with its epoch.
func (c *Client) GetBroker(id int32) (BrokerInfo, error) {
	p := fmt.Sprintf("%s/%d", brokerIDsPath, id)
	data, st, err := c.conn.Get(c.p(p))
	if err != nil {
		return BrokerInfo{}, wrap("get", p, err)
	}
	b, err := DecodeBroker(data)
	if err != nil {
		return BrokerInfo{}, fmt.Errorf("%s: %w", p, err)
	}
	b.ID, b.Epoch = id, st.Czxid
	return b, nil
}

// ListBrokers reads every live registration without leaving a watch behind (admin requests
// assign replicas over it, as Kafka's AdminZkClient does).
func (c *Client) ListBrokers() ([]BrokerInfo, error) {
	ids, _, err := c.conn.Children(c.p(brokerIDsPath))
	if err != nil {
		return nil, wrap("children", brokerIDsPath, err)
	}
	var out []BrokerInfo
	for _, name := range ids {
		id, err := strconv.ParseInt(name, 10, 32)
		if err != nil {
			continue // not a broker id: not ours to interpret
		}
		b, err := c.GetBroker(int32(id))
		if errors.Is(err, ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// GetBrokers reads every live registration.
func (c *Client) GetBrokers() ([]BrokerInfo, error) {
	ids, _, err := c.WatchBrokerIDs()
	if err != nil {
		return nil, err
	}
	var out []BrokerInfo
	for _, id := range ids {
		b, err := c.GetBroker(id)
		if errors.Is(err, ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// WatchBrokerIDs lists /brokers/ids with a child watch.
func (c *Client) WatchBrokerIDs() ([]int32, <-chan zk.Event, error) {
	names, _, ev, err := c.conn.ChildrenW(c.p(brokerIDsPath))
	if err != nil {
		return nil, nil, wrap("ls", brokerIDsPath, err)
	}
	var ids []int32
	for _, n := range names {
		if id, err := strconv.ParseInt(n, 10, 32); err == nil {
			ids = append(ids, int32(id))
		}
	}
	return ids, ev, nil
}

func topicPath(t string) string              { return brokerTopicsPath + "/" + t }
func partitionsPath(t string) string         { return topicPath(t) + "/partitions" }
func partitionPath(t string, p int32) string { return fmt.Sprintf("%s/%d", partitionsPath(t), p) }
func statePath(t string, p int32) string     { return partitionPath(t, p) + "/state" }
func topicConfigPath(t string) string        { return configTopicsPath + "/" + t }
func deleteMarkerPath(t string) string       { return deleteTopicsPath + "/" + t }

// CreateTopic writes /config/topics/<t> (created or overwritten) and then creates
// /brokers/topics/<t>, Kafka's order; an existing topic is ErrTopicExists.
func (c *Client) CreateTopic(a TopicAssignment, config map[string]string) error {
	if ok, _, err := c.conn.Exists(c.p(topicPath(a.Topic))); err != nil {
		return wrap("exists", topicPath(a.Topic), err)
	} else if ok {
		return fmt.Errorf("create %s: %w", topicPath(a.Topic), ErrTopicExists)
	}
	if err := c.writeConfig(topicConfigPath(a.Topic), config); err != nil {
		return err
	}
	_, err := c.conn.Create(c.p(topicPath(a.Topic)), EncodeTopic(a), 0, openACL)
	if errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("create %s: %w", topicPath(a.Topic), ErrTopicExists)
	}
	return wrap("create", topicPath(a.Topic), err)
}

func (c *Client) writeConfig(p string, cfg map[string]string) error {
	data := EncodeConfig(cfg)
	_, err := c.conn.Set(c.p(p), data, -1)
	if errors.Is(err, zk.ErrNoNode) {
		if err := createRecursive(c.conn, c.p(path.Dir(p))); err != nil {
			return wrap("create", path.Dir(p), err)
		}
		_, err = c.conn.Create(c.p(p), data, 0, openACL)
	}
	return wrap("write", p, err)
}

// GetTopic reads a topic's assignment.
func (c *Client) GetTopic(name string) (TopicAssignment, error) {
	data, st, err := c.conn.Get(c.p(topicPath(name)))
	if err != nil {
		return TopicAssignment{}, wrap("get", topicPath(name), err)
	}
	a, err := DecodeTopic(data)
	a.Topic, a.ZkVersion = name, st.Version
	return a, err
}

// WatchTopic reads a topic's assignment with a data watch.
func (c *Client) WatchTopic(name string) (TopicAssignment, <-chan zk.Event, error) {
	data, st, ev, err := c.conn.GetW(c.p(topicPath(name)))
	if err != nil {
		return TopicAssignment{}, nil, wrap("get", topicPath(name), err)
	}
	a, err := DecodeTopic(data)
	a.Topic, a.ZkVersion = name, st.Version
	return a, ev, err
}

// WatchTopics lists /brokers/topics with a child watch.
func (c *Client) WatchTopics() ([]string, <-chan zk.Event, error) {
	names, _, ev, err := c.conn.ChildrenW(c.p(brokerTopicsPath))
	if err != nil {
		return nil, nil, wrap("ls", brokerTopicsPath, err)
	}
	return names, ev, nil
}

// TopicExists reports whether /brokers/topics/<t> exists.
func (c *Client) TopicExists(name string) (bool, error) {
	ok, _, err := c.conn.Exists(c.p(topicPath(name)))
	return ok, wrap("exists", topicPath(name), err)
}

// SetTopicAssignment rewrites a topic's assignment, conditional on a.ZkVersion.
func (c *Client) SetTopicAssignment(a TopicAssignment, f *Fence) error {
	_, err := c.multi(f, &zk.SetDataRequest{Path: c.p(topicPath(a.Topic)), Data: EncodeTopic(a), Version: a.ZkVersion})
	return wrap("set", topicPath(a.Topic), err)
}

// CreatePartitionState creates .../partitions and .../partitions/<p> (null) if missing, then the
// state znode, all fenced.
func (c *Client) CreatePartitionState(topic string, p int32, s PartitionState, f *Fence) error {
	for _, parent := range []string{partitionsPath(topic), partitionPath(topic, p)} {
		_, err := c.multi(f, &zk.CreateRequest{Path: c.p(parent), Acl: openACL})
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return wrap("create", parent, err)
		}
	}
	_, err := c.multi(f, &zk.CreateRequest{Path: c.p(statePath(topic, p)), Data: EncodePartitionState(s), Acl: openACL})
	return wrap("create", statePath(topic, p), err)
}

// CreatePartitionStates creates many new partitions' znodes of one topic (.../partitions/<p> and
// its state) in fenced all-or-nothing multis of up to maxStatesPerMulti partitions — a new
// topic of a thousand partitions in a few round trips. ErrNodeExists from a multi means some
// partition of it was there already (a controller before us got half way): the caller creates
// those one by one. It returns how many partitions were created, in the order given.
func (c *Client) CreatePartitionStates(topic string, parts []int32, states []PartitionState, f *Fence) (int, error) {
	if _, err := c.multi(f, &zk.CreateRequest{Path: c.p(partitionsPath(topic)), Acl: openACL}); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return 0, wrap("create", partitionsPath(topic), err)
	}
	done := 0
	for start := 0; start < len(parts); start += maxStatesPerMulti / 2 {
		end := min(start+maxStatesPerMulti/2, len(parts))
		ops := make([]any, 0, 2*(end-start))
		for i := start; i < end; i++ {
			ops = append(ops, &zk.CreateRequest{Path: c.p(partitionPath(topic, parts[i])), Acl: openACL},
				&zk.CreateRequest{Path: c.p(statePath(topic, parts[i])), Data: EncodePartitionState(states[i]), Acl: openACL})
		}
		if _, err := c.multi(f, ops...); err != nil {
			if errors.Is(err, zk.ErrNodeExists) {
				return done, fmt.Errorf("create partition states of %s: %w", topic, ErrNodeExists)
			}
			return done, wrap("multi create", fmt.Sprintf("%d partition states of %s", end-start, topic), err)
		}
		done = end
	}
	return done, nil
}

// GetPartitionState reads a partition's leader and ISR with its zkVersion.
func (c *Client) GetPartitionState(topic string, p int32) (PartitionState, error) {
	return c.getPartitionState(c.conn, topic, p)
}

func (c *Client) getPartitionState(conn *zk.Conn, topic string, p int32) (PartitionState, error) {
	data, st, err := conn.Get(c.p(statePath(topic, p)))
	if err != nil {
		return PartitionState{}, wrap("get", statePath(topic, p), err)
	}
	s, err := DecodePartitionState(data)
	s.ZkVersion = st.Version
	return s, err
}

// UpdatePartitionState writes s conditional on s.ZkVersion and returns the new version.
func (c *Client) UpdatePartitionState(topic string, p int32, s PartitionState, f *Fence) (int32, error) {
	res, err := c.multi(f, &zk.SetDataRequest{Path: c.p(statePath(topic, p)), Data: EncodePartitionState(s), Version: s.ZkVersion})
	if err != nil {
		return 0, wrap("set", statePath(topic, p), err)
	}
	return res[len(res)-1].Stat.Version, nil
}

// StateUpdate is one partition's new state for UpdatePartitionStates; State.ZkVersion is the
// version the write is conditional on.
type StateUpdate struct {
	Topic     string
	Partition int32
	State     PartitionState
}

// maxStatesPerMulti bounds one multi well under ZooKeeper's 1 MiB jute.maxbuffer (a state
// payload is ~100 bytes).
var maxStatesPerMulti = 1000 // a var: tests lower it

// multisInFlight is how many of UpdatePartitionStates' multis are sent at once. They write
// different znodes, so their order does not matter, and ZooKeeper logs concurrent transactions
// with one fsync (its SyncRequestProcessor commits what is queued together): ten multis of a
// failover over 10 000 partitions cost about one disk wait, not ten.
const multisInFlight = 8

// NotWritten is UpdatePartitionStates' version for an update whose multi failed.
const NotWritten int32 = -1

// UpdatePartitionStates writes many partitions' states in fenced multis of up to
// maxStatesPerMulti, each all-or-nothing, as the controller does when a broker dies; the multis
// go out concurrently. It returns one version per update, in order: the new one, or NotWritten
// for the updates of a multi that failed. The error is the first failure
// (ErrControllerMoved ahead of any other; ErrBadVersion if some state changed under us: the
// caller re-reads those).
func (c *Client) UpdatePartitionStates(updates []StateUpdate, f *Fence) ([]int32, error) {
	versions := make([]int32, len(updates))
	errs := make([]error, (len(updates)+maxStatesPerMulti-1)/maxStatesPerMulti)
	slots := make(chan struct{}, multisInFlight)
	var wg sync.WaitGroup
	for start := 0; start < len(updates); start += maxStatesPerMulti {
		chunk := updates[start:min(start+maxStatesPerMulti, len(updates))]
		out := versions[start : start+len(chunk)]
		errp := &errs[start/maxStatesPerMulti]
		slots <- struct{}{}
		wg.Add(1)
		go func() { // owned by this call: it waits for them below
			defer func() { <-slots; wg.Done() }()
			ops := make([]any, len(chunk))
			for i, u := range chunk {
				ops[i] = &zk.SetDataRequest{Path: c.p(statePath(u.Topic, u.Partition)), Data: EncodePartitionState(u.State), Version: u.State.ZkVersion}
			}
			res, err := c.multi(f, ops...)
			if err != nil {
				*errp = wrap("multi set", fmt.Sprintf("%d partition states", len(chunk)), err)
				for i := range out {
					out[i] = NotWritten
				}
				return
			}
			for i, r := range res[len(res)-len(chunk):] {
				out[i] = r.Stat.Version
			}
		}()
	}
	wg.Wait()
	var first error
	for _, err := range errs {
		if errors.Is(err, ErrControllerMoved) {
			return versions, err
		}
		if first == nil {
			first = err
		}
	}
	return versions, first
}

// GetTopicConfig reads /config/topics/<t>; a missing znode is an empty config. It waits for a
// connection being re-established (retryRead).
func (c *Client) GetTopicConfig(topic string) (map[string]string, error) {
	var data []byte
	err := c.retryRead(func() (err error) {
		data, _, err = c.conn.Get(c.p(topicConfigPath(topic)))
		return err
	})
	if errors.Is(err, zk.ErrNoNode) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, wrap("get", topicConfigPath(topic), err)
	}
	return DecodeConfig(data)
}

// SetTopicConfig replaces a topic's overrides and writes the change notification every broker
// watches (/config/changes/config_change_N), as kafka-configs does.
func (c *Client) SetTopicConfig(topic string, cfg map[string]string) error {
	if err := c.writeConfig(topicConfigPath(topic), cfg); err != nil {
		return err
	}
	_, err := c.conn.Create(c.p(configChangesPath+"/"+configChangePrefix), encodeConfigChange("topics/"+topic),
		zk.FlagSequence, openACL)
	return wrap("create", configChangesPath, err)
}

// DefaultConfigEntity is Kafka's ConfigEntityName.Default: the entity name of cluster-wide
// defaults, /config/brokers/<default> for brokers.
const DefaultConfigEntity = "<default>"

func brokerConfigPath(entity string) string { return configBrokersPath + "/" + entity }

// GetBrokerConfig reads /config/brokers/<entity> (a broker id, or DefaultConfigEntity): the
// dynamic broker configs; a missing znode is an empty config.
func (c *Client) GetBrokerConfig(entity string) (map[string]string, error) {
	data, _, err := c.conn.Get(c.p(brokerConfigPath(entity)))
	if errors.Is(err, zk.ErrNoNode) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, wrap("get", brokerConfigPath(entity), err)
	}
	return DecodeConfig(data)
}

// SetBrokerConfig replaces the dynamic configs of a broker (entity = its id) or of the cluster
// default (DefaultConfigEntity) and writes the change notification "brokers/<entity>", as
// Kafka's AdminZkClient.changeBrokerConfig does (the znode is written even when cfg is empty).
func (c *Client) SetBrokerConfig(entity string, cfg map[string]string) error {
	if err := c.writeConfig(brokerConfigPath(entity), cfg); err != nil {
		return err
	}
	_, err := c.conn.Create(c.p(configChangesPath+"/"+configChangePrefix), encodeConfigChange("brokers/"+entity),
		zk.FlagSequence, openACL)
	return wrap("create", configChangesPath, err)
}

// WatchConfigChanges lists the change notifications with a child watch.
func (c *Client) WatchConfigChanges() ([]string, <-chan zk.Event, error) {
	names, _, ev, err := c.conn.ChildrenW(c.p(configChangesPath))
	if err != nil {
		return nil, nil, wrap("ls", configChangesPath, err)
	}
	return names, ev, nil
}

// GetConfigChange reads a notification's entity path ("topics/<t>"); version 1 is accepted.
func (c *Client) GetConfigChange(name string) (string, error) {
	p := configChangesPath + "/" + name
	data, _, err := c.conn.Get(c.p(p))
	if err != nil {
		return "", wrap("get", p, err)
	}
	entity, err := DecodeConfigChange(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return entity, nil
}

// MarkTopicForDeletion creates /admin/delete_topics/<t>; already marked is success.
func (c *Client) MarkTopicForDeletion(topic string) error {
	_, err := c.conn.Create(c.p(deleteMarkerPath(topic)), nil, 0, openACL)
	if errors.Is(err, zk.ErrNodeExists) {
		return nil
	}
	return wrap("create", deleteMarkerPath(topic), err)
}

// WatchTopicDeletions lists /admin/delete_topics with a child watch.
func (c *Client) WatchTopicDeletions() ([]string, <-chan zk.Event, error) {
	names, _, ev, err := c.conn.ChildrenW(c.p(deleteTopicsPath))
	if err != nil {
		return nil, nil, wrap("ls", deleteTopicsPath, err)
	}
	return names, ev, nil
}

// RemoveDeletionMarker deletes /admin/delete_topics/<t> alone (unknown topic, or deletion
// disabled), fenced.
func (c *Client) RemoveDeletionMarker(topic string, f *Fence) error {
	_, err := c.multi(f, &zk.DeleteRequest{Path: c.p(deleteMarkerPath(topic)), Version: -1})
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	return wrap("delete", deleteMarkerPath(topic), err)
}

// DeleteTopic removes a deleted topic's znodes, children first, then its config and its deletion
// marker, each step fenced.
func (c *Client) DeleteTopic(topic string, f *Fence) error {
	if err := c.deleteRecursive(topicPath(topic), f); err != nil {
		return err
	}
	for _, p := range []string{topicConfigPath(topic), deleteMarkerPath(topic)} {
		_, err := c.multi(f, &zk.DeleteRequest{Path: c.p(p), Version: -1})
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return wrap("delete", p, err)
		}
	}
	return nil
}

func (c *Client) deleteRecursive(p string, f *Fence) error {
	children, _, err := c.conn.Children(c.p(p))
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return wrap("ls", p, err)
	}
	for _, ch := range children {
		if err := c.deleteRecursive(p+"/"+ch, f); err != nil {
			return err
		}
	}
	_, err = c.multi(f, &zk.DeleteRequest{Path: c.p(p), Version: -1})
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return wrap("delete", p, err)
	}
	return nil
}

// WatchController reads /controller with an exists/data watch.
func (c *Client) WatchController() (ControllerInfo, bool, <-chan zk.Event, error) {
	data, _, ev, err := c.conn.GetW(c.p(controllerPath))
	if errors.Is(err, zk.ErrNoNode) {
		ok, _, ev, err := c.conn.ExistsW(c.p(controllerPath))
		if err != nil {
			return ControllerInfo{}, false, nil, wrap("exists", controllerPath, err)
		}
		if ok { // created between the two calls: the watch fires and the caller re-reads
			return ControllerInfo{}, false, ev, nil
		}
		return ControllerInfo{}, false, ev, nil
	}
	if err != nil {
		return ControllerInfo{}, false, nil, wrap("get", controllerPath, err)
	}
	ci, err := DecodeController(data)
	return ci, err == nil, ev, err
}

// ControllerEpoch reads /controller_epoch and its zkVersion.
func (c *Client) ControllerEpoch() (int32, int32, error) {
	data, st, err := c.conn.Get(c.p(controllerEpochPath))
	if err != nil {
		return 0, 0, wrap("get", controllerEpochPath, err)
	}
	e, err := DecodeControllerEpoch(data)
	if err != nil {
		return 0, 0, err
	}
	return e, st.Version, nil
}

// Elect is Kafka's election (zk-layout.md §3.1): one multi creates the ephemeral /controller and
// bumps /controller_epoch conditional on the version just read. It returns the new epoch and its
// zkVersion, the fence for every later controller write; losing is ErrControllerMoved.
func (c *Client) Elect(brokerID int32) (int32, int32, error) {
	epoch, version, err := c.ControllerEpoch()
	if errors.Is(err, ErrNoNode) {
		_, cerr := c.conn.Create(c.p(controllerEpochPath), []byte("0"), 0, openACL)
		if cerr != nil && !errors.Is(cerr, zk.ErrNodeExists) {
			return 0, 0, wrap("create", controllerEpochPath, cerr)
		}
		epoch, version, err = c.ControllerEpoch()
	}
	if err != nil {
		return 0, 0, err
	}
	next := epoch + 1
	res, err := c.multi(nil,
		&zk.CreateRequest{Path: c.p(controllerPath), Data: EncodeController(ControllerInfo{BrokerID: brokerID, Timestamp: time.Now().UnixMilli()}),
			Acl: openACL, Flags: zk.FlagEphemeral},
		&zk.SetDataRequest{Path: c.p(controllerEpochPath), Data: []byte(strconv.Itoa(int(next))), Version: version})
	if err == nil {
		return next, res[1].Stat.Version, nil
	}
	if errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrBadVersion) {
		// A retry after a lost connection may find our own win.
		if data, _, gerr := c.conn.Get(c.p(controllerPath)); gerr == nil {
			if ci, derr := DecodeController(data); derr == nil && ci.BrokerID == brokerID {
				if e, v, eerr := c.ControllerEpoch(); eerr == nil && e == next {
					return e, v, nil
				}
			}
		}
		return 0, 0, fmt.Errorf("elect: %w", ErrControllerMoved)
	}
	return 0, 0, wrap("elect", controllerPath, err)
}

// DeleteController removes /controller if it names expectedBrokerID (a resigning controller).
func (c *Client) DeleteController(expectedBrokerID int32) error {
	data, st, err := c.conn.Get(c.p(controllerPath))
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return wrap("get", controllerPath, err)
	}
	if ci, err := DecodeController(data); err != nil || ci.BrokerID != expectedBrokerID {
		return nil
	}
	err = c.conn.Delete(c.p(controllerPath), st.Version)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	return wrap("delete", controllerPath, err)
}

// WriteFeature writes /feature as a 3.3+ ZooKeeper-mode controller does (no finalized features).
func (c *Client) WriteFeature() error {
	data := []byte(`{"features":{},"version":2,"status":1}`)
	_, err := c.conn.Set(c.p(featurePath), data, -1)
	if errors.Is(err, zk.ErrNoNode) {
		_, err = c.conn.Create(c.p(featurePath), data, 0, openACL)
		if errors.Is(err, zk.ErrNodeExists) {
			err = nil
		}
	}
	return wrap("write", featurePath, err)
}

// AllocateProducerIDBlock takes the next 1000 producer ids from /latest_producer_id_block
// (compare-and-set on its version, retried on a race), as Kafka 2.8 brokers do.
func (c *Client) AllocateProducerIDBlock(brokerID int32) (int64, int64, error) {
	for attempt := 0; attempt < 20; attempt++ {
		data, st, err := c.conn.Get(c.p(producerIDBlockPath))
		if errors.Is(err, zk.ErrNoNode) {
			if err := createRecursive(c.conn, c.p(producerIDBlockPath)); err != nil {
				return 0, 0, wrap("create", producerIDBlockPath, err)
			}
			continue
		}
		if err != nil {
			return 0, 0, wrap("get", producerIDBlockPath, err)
		}
		start := int64(0)
		if len(data) > 0 {
			end, err := DecodeProducerIDBlockEnd(data)
			if err != nil {
				return 0, 0, err
			}
			start = end + 1
		}
		end := start + producerIDBlockSize - 1
		_, err = c.conn.Set(c.p(producerIDBlockPath), encodeProducerBlock(brokerID, start, end), st.Version)
		if errors.Is(err, zk.ErrBadVersion) {
			continue
		}
		if err != nil {
			return 0, 0, wrap("set", producerIDBlockPath, err)
		}
		return start, end, nil
	}
	return 0, 0, fmt.Errorf("%s: too much contention", producerIDBlockPath)
}

// WaitBrokerIDFree waits, on an exists watch, until /brokers/ids/<id> is gone or timeout passes.
// A broker restarted right after a crash finds its previous registration still there until
// ZooKeeper expires the dead session; a live broker's registration never goes.
func (c *Client) WaitBrokerIDFree(id int32, timeout time.Duration) error {
	p := fmt.Sprintf("%s/%d", brokerIDsPath, id)
	deadline := time.After(timeout)
	for {
		ok, _, ev, err := c.conn.ExistsW(c.p(p))
		if err != nil {
			return wrap("exists", p, err)
		}
		if !ok {
			return nil
		}
		select {
		case <-ev:
		case <-deadline:
			return fmt.Errorf("register %s: %w", p, ErrBrokerIDInUse)
		}
	}
}

// WatchPreferredElection reads /admin/preferred_replica_election with an exists watch (set
// whether or not it exists). A payload that does not decode is returned as an error with the
// watch still armed.
func (c *Client) WatchPreferredElection() ([]PartitionRef, bool, <-chan zk.Event, error) {
	return watchAdmin(c, preferredElectPath, DecodePartitionList)
}

// DeletePreferredElection removes the znode once the controller has run the elections.
func (c *Client) DeletePreferredElection(f *Fence) error {
	_, err := c.multi(f, &zk.DeleteRequest{Path: c.p(preferredElectPath), Version: -1})
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	return wrap("delete", preferredElectPath, err)
}

// WatchReassignments reads /admin/reassign_partitions with an exists watch.
func (c *Client) WatchReassignments() ([]Reassignment, bool, <-chan zk.Event, error) {
	return watchAdmin(c, reassignPath, DecodeReassignments)
}

// SetReassignments rewrites /admin/reassign_partitions with the entries still in progress, or
// deletes it when none is left (Kafka removes entries as partitions complete).
func (c *Client) SetReassignments(rs []Reassignment, f *Fence) error {
	if len(rs) == 0 {
		_, err := c.multi(f, &zk.DeleteRequest{Path: c.p(reassignPath), Version: -1})
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		return wrap("delete", reassignPath, err)
	}
	_, err := c.multi(f, &zk.SetDataRequest{Path: c.p(reassignPath), Data: EncodeReassignments(rs), Version: -1})
	return wrap("set", reassignPath, err)
}

func watchAdmin[T any](c *Client, path string, decode func([]byte) ([]T, error)) ([]T, bool, <-chan zk.Event, error) {
	ok, _, ev, err := c.conn.ExistsW(c.p(path))
	if err != nil {
		return nil, false, nil, wrap("exists", path, err)
	}
	if !ok {
		return nil, false, ev, nil
	}
	data, _, err := c.conn.Get(c.p(path))
	if errors.Is(err, zk.ErrNoNode) {
		return nil, false, ev, nil
	}
	if err != nil {
		return nil, true, ev, wrap("get", path, err)
	}
	out, err := decode(data)
	return out, true, ev, err
}
