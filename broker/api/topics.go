package api

import (
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/config"
	"github.com/gregor-broker/gregor/controller"
	"github.com/gregor-broker/gregor/zkmeta"
)

// newTopic is a topic accepted by createTopic.
type newTopic struct {
	ID         [16]byte // zero when validate-only
	Assignment map[int32][]int32
	RF         int16
}

// createTopic validates one topic as Kafka's ZkAdminManager.createTopics and
// AdminZkClient.validateTopicCreate do, then (unless validateOnly) writes it with
// zkmeta.CreateTopic (/config/topics/<t>, then /brokers/topics/<t> with a fresh topic id). The
// controller picks it up from its watch and elects leaders. assignment nil = computed over the
// live brokers with Kafka's rack-(un)aware algorithm; otherwise partitions and rf are ignored.
func (h *Handler) createTopic(snap *metadata.Snapshot, name string, partitions int32, rf int16,
	assignment map[int32][]int32, configs map[string]string, validateOnly bool) (newTopic, error) {
	if _, ok := snap.Topic(name); ok {
		return newTopic{}, errorf(kerr.TopicAlreadyExists, "Topic '%s' already exists.", name)
	}
	if assignment == nil {
		var err error
		if assignment, err = h.assignReplicas(h.assignableBrokers(snap), partitions, rf, 0, -1); err != nil {
			return newTopic{}, err
		}
	}
	if err := validateTopicName(name); err != nil {
		return newTopic{}, err
	}
	exists, err := h.o.ZK.TopicExists(name)
	if err != nil {
		return newTopic{}, fmt.Errorf("check topic %s: %w", name, err)
	}
	if exists {
		return newTopic{}, errorf(kerr.TopicAlreadyExists, "Topic '%s' already exists.", name)
	}
	if hasCollisionChars(name) {
		for _, other := range snap.TopicNames() {
			if topicsCollide(name, other) {
				return newTopic{}, errorf(kerr.InvalidTopicException, "Topic '%s' collides with existing topics: %s", name, other)
			}
		}
	}
	rfOut, err := validateAssignment(assignment, h.assignableBrokers(snap))
	if err != nil {
		return newTopic{}, err
	}
	if err := config.ValidateTopicConfigs(configs); err != nil {
		return newTopic{}, err
	}
	nt := newTopic{Assignment: assignment, RF: rfOut}
	if validateOnly {
		return nt, nil
	}
	if configs == nil {
		configs = map[string]string{} // /config/topics/<t> is always written, {} when empty
	}
	nt.ID = zkmeta.NewUUID()
	a := zkmeta.TopicAssignment{Topic: name, TopicID: nt.ID, Partitions: assignment,
		Adding: map[int32][]int32{}, Removing: map[int32][]int32{}}
	if err := h.o.ZK.CreateTopic(a, configs); err != nil {
		return newTopic{}, fmt.Errorf("create topic %s: %w", name, err)
	}
	h.log.WithField("topic", name).Infof("created topic with %d partitions, replication factor %d", len(assignment), rfOut)
	return nt, nil
}

// assignReplicas computes replica lists for partitions start..start+n-1 over the live brokers
// (sorted by id), with the errors Kafka's AdminUtils raises. fixedStart < 0 = random start and
// shift (new topic); >= 0 = both fixed (adding partitions).
func (h *Handler) assignReplicas(brokers brokerView, n int32, rf int16, start int32, fixedStart int) (map[int32][]int32, error) {
	if n <= 0 {
		return nil, errorf(kerr.InvalidPartitions, "Number of partitions must be larger than 0.")
	}
	if rf <= 0 {
		return nil, errorf(kerr.InvalidReplicationFactor, "Replication factor must be larger than 0.")
	}
	if int(rf) > len(brokers.ids) {
		return nil, errorf(kerr.InvalidReplicationFactor, "Replication factor: %d larger than available brokers: %d.", rf, len(brokers.ids))
	}
	metas := make([]controller.BrokerMeta, 0, len(brokers.ids))
	for _, id := range brokers.ids {
		metas = append(metas, controller.BrokerMeta{ID: id, Rack: brokers.racks[id]})
	}
	a, err := controller.AssignReplicas(metas, n, rf, start, fixedStart, fixedStart)
	if err != nil {
		return nil, fmt.Errorf("assign replicas: %w", err)
	}
	return a, nil
}

// validateAssignment checks an explicit or computed assignment: partition ids 0..n-1, every
// partition the same non-zero replication factor, no broker twice in a partition, every broker
// live. It returns the replication factor.
func validateAssignment(a map[int32][]int32, brokers brokerView) (int16, error) {
	if len(a) == 0 {
		return 0, errorf(kerr.InvalidPartitions, "Number of partitions must be larger than 0.")
	}
	ids := make([]int32, 0, len(a))
	for p := range a {
		ids = append(ids, p)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for i, p := range ids {
		if p != int32(i) {
			return 0, errorf(kerr.InvalidReplicaAssignment, "partitions should be a consecutive 0-based integer sequence")
		}
	}
	rf := len(a[0])
	for _, p := range ids {
		reps := a[p]
		if len(reps) == 0 {
			return 0, errorf(kerr.InvalidReplicaAssignment, "Cannot have replication factor of 0 for partition id %d.", p)
		}
		if len(reps) != rf {
			return 0, errorf(kerr.InvalidReplicaAssignment, "All partitions should have the same number of replicas")
		}
		seen := map[int32]bool{}
		for _, b := range reps {
			if seen[b] {
				return 0, errorf(kerr.InvalidReplicaAssignment, "Duplicate replica assignment found: partition %d %v", p, reps)
			}
			seen[b] = true
			if !brokers.alive(b) {
				return 0, errorf(kerr.InvalidReplicaAssignment, "Unknown broker %d in the replica assignment of partition %d", b, p)
			}
		}
	}
	if rf > 32767 {
		return 0, errorf(kerr.InvalidReplicationFactor, "replication factor %d too large", rf)
	}
	return int16(rf), nil
}

// brokerView is the brokers replicas may be assigned to, sorted by id, with their racks.
type brokerView struct {
	ids   []int32
	racks map[int32]string
}

func (v brokerView) alive(id int32) bool {
	i := sort.Search(len(v.ids), func(i int) bool { return v.ids[i] >= id })
	return i < len(v.ids) && v.ids[i] == id
}

// viewOfSnapshot is the live brokers of a metadata snapshot.
func viewOfSnapshot(snap *metadata.Snapshot) brokerView {
	v := brokerView{racks: map[int32]string{}}
	for _, b := range snap.Brokers() {
		v.ids = append(v.ids, b.ID)
		if b.Rack != nil {
			v.racks[b.ID] = *b.Rack
		}
	}
	sort.Slice(v.ids, func(i, j int) bool { return v.ids[i] < v.ids[j] })
	return v
}

// assignableBrokers is the brokers registered in /brokers/ids. Kafka's ZkAdminManager assigns
// over its metadata cache's alive brokers, which learns of a broker that just registered only
// with the controller's next UpdateMetadata, so a topic created right after a broker starts can
// be refused there; the registrations are the same truth without the lag (Kafka's own
// AdminZkClient, behind --zookeeper tools, reads them). If ZooKeeper cannot be read, the
// cache's view.
func (h *Handler) assignableBrokers(snap *metadata.Snapshot) brokerView {
	if h.o.ZK == nil {
		return viewOfSnapshot(snap)
	}
	bs, err := h.o.ZK.ListBrokers()
	if err != nil {
		h.log.WithError(err).Warn("listing /brokers/ids; assigning over the metadata cache's brokers")
		return viewOfSnapshot(snap)
	}
	v := brokerView{racks: map[int32]string{}}
	for _, b := range bs {
		v.ids = append(v.ids, b.ID)
		if b.Rack != "" {
			v.racks[b.ID] = b.Rack
		}
	}
	return v
}
