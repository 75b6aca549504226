package zkmeta

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// Endpoint is one advertised listener of a broker.
type Endpoint struct {
	Listener, Host   string
	Port             int
	SecurityProtocol string
}

// BrokerInfo is /brokers/ids/<id>.
type BrokerInfo struct {
	ID        int32
	Endpoints []Endpoint
	Rack      string
	JMXPort   int
	Timestamp int64
	Epoch     int64 // czxid of the znode: the broker epoch
}

// EncodeBroker writes the version-5 registration with Kafka 2.8's (Scala 2.13) key order:
// features, listener_security_protocol_map, endpoints, [rack,] jmx_port, port, host, version,
// timestamp. host/port name the first PLAINTEXT endpoint (null/-1 without one).
func EncodeBroker(b BrokerInfo) []byte {
	o := newObj()
	o.raw("features", []byte("{}"))
	pm := newObj()
	var eps []string
	host, port := "", -1
	for _, e := range b.Endpoints {
		pm.str(e.Listener, e.SecurityProtocol)
		eps = append(eps, e.Listener+"://"+net.JoinHostPort(e.Host, strconv.Itoa(e.Port)))
		if port < 0 && e.SecurityProtocol == "PLAINTEXT" {
			host, port = e.Host, e.Port
		}
	}
	o.raw("listener_security_protocol_map", pm.bytes())
	o.raw("endpoints", strArray(eps))
	if b.Rack != "" {
		o.str("rack", b.Rack)
	}
	jmx := b.JMXPort
	if jmx == 0 {
		jmx = -1
	}
	o.num("jmx_port", int64(jmx))
	o.num("port", int64(port))
	if port < 0 {
		o.null("host")
	} else {
		o.str("host", host)
	}
	o.num("version", 5)
	o.str("timestamp", strconv.FormatInt(b.Timestamp, 10))
	return o.bytes()
}

// DecodeBroker reads registrations of versions 1–5.
func DecodeBroker(data []byte) (BrokerInfo, error) {
	var raw struct {
		Version   int               `json:"version"`
		Host      *string           `json:"host"`
		Port      int               `json:"port"`
		JMXPort   int               `json:"jmx_port"`
		Timestamp string            `json:"timestamp"`
		Endpoints []string          `json:"endpoints"`
		Rack      *string           `json:"rack"`
		Protocols map[string]string `json:"listener_security_protocol_map"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return BrokerInfo{}, fmt.Errorf("broker registration: %w", err)
	}
	b := BrokerInfo{JMXPort: raw.JMXPort}
	if b.JMXPort == 0 {
		b.JMXPort = -1 // absent (or 0, no port a JMX server listens on) is Kafka's "no JMX": -1, as EncodeBroker writes it
	}
	b.Timestamp, _ = strconv.ParseInt(raw.Timestamp, 10, 64)
	if raw.Rack != nil {
		b.Rack = *raw.Rack
	}
	for _, ep := range raw.Endpoints {
		name, rest, ok := strings.Cut(ep, "://")
		if !ok {
			return BrokerInfo{}, fmt.Errorf("broker registration: endpoint %q", ep)
		}
		h, p, err := net.SplitHostPort(rest)
		if err != nil {
			return BrokerInfo{}, fmt.Errorf("broker registration: endpoint %q: %v", ep, err)
		}
		port, err := strconv.Atoi(p)
		if err != nil {
			return BrokerInfo{}, fmt.Errorf("broker registration: endpoint %q: bad port", ep)
		}
		proto := raw.Protocols[name]
		if proto == "" {
			proto = name // versions < 4 name endpoints by protocol
		}
		b.Endpoints = append(b.Endpoints, Endpoint{Listener: name, Host: h, Port: port, SecurityProtocol: proto})
	}
	if len(b.Endpoints) == 0 && raw.Host != nil {
		b.Endpoints = []Endpoint{{Listener: "PLAINTEXT", Host: *raw.Host, Port: raw.Port, SecurityProtocol: "PLAINTEXT"}}
	}
	return b, nil
}

// TopicAssignment is /brokers/topics/<topic>.
type TopicAssignment struct {
	Topic                        string
	TopicID                      [16]byte // zero if absent
	Partitions, Adding, Removing map[int32][]int32
	ZkVersion                    int32
}

func partitionMap(m map[int32][]int32) []byte {
	keys := make([]string, 0, len(m))
	for p := range m {
		keys = append(keys, strconv.Itoa(int(p)))
	}
	o := newObj()
	for _, k := range scalaHashMapOrder(keys) {
		p, _ := strconv.Atoi(k)
		o.raw(k, intArray(m[int32(p)]))
	}
	return o.bytes()
}

// EncodeTopic writes the version-3 assignment: partitions, topic_id, adding_replicas,
// removing_replicas, version — partition keys in Scala HashMap order.
func EncodeTopic(a TopicAssignment) []byte {
	o := newObj()
	o.raw("partitions", partitionMap(a.Partitions))
	if a.TopicID != ([16]byte{}) {
		o.str("topic_id", UUIDString(a.TopicID))
	}
	o.raw("adding_replicas", partitionMap(a.Adding))
	o.raw("removing_replicas", partitionMap(a.Removing))
	o.num("version", 3)
	return o.bytes()
}

// DecodeTopic reads assignment versions 1–3.
func DecodeTopic(data []byte) (TopicAssignment, error) {
	var raw struct {
		Partitions map[string][]int32 `json:"partitions"`
		TopicID    *string            `json:"topic_id"`
		Adding     map[string][]int32 `json:"adding_replicas"`
		Removing   map[string][]int32 `json:"removing_replicas"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return TopicAssignment{}, fmt.Errorf("topic assignment: %w", err)
	}
	conv := func(m map[string][]int32) (map[int32][]int32, error) {
		out := map[int32][]int32{}
		for k, v := range m {
			p, err := strconv.ParseInt(k, 10, 32)
			if err != nil || p < 0 {
				return nil, fmt.Errorf("topic assignment: partition %q", k)
			}
			out[int32(p)] = v
		}
		return out, nil
	}
	var a TopicAssignment
	var err error
	if a.Partitions, err = conv(raw.Partitions); err != nil {
		return a, err
	}
	if a.Adding, err = conv(raw.Adding); err != nil {
		return a, err
	}
	if a.Removing, err = conv(raw.Removing); err != nil {
		return a, err
	}
	if raw.TopicID != nil {
		if a.TopicID, err = ParseUUID(*raw.TopicID); err != nil {
			return a, fmt.Errorf("topic assignment: %w", err)
		}
	}
	return a, nil
}

// PartitionState is /brokers/topics/<t>/partitions/<p>/state; ZkVersion is its dataVersion
// (the partition epoch).
type PartitionState struct {
	ControllerEpoch, Leader, LeaderEpoch int32
	ISR                                  []int32
	LeaderRecoveryState                  int8
	ZkVersion                            int32
}

// EncodePartitionState: controller_epoch, leader, version, [leader_recovery_state,]
// leader_epoch, isr.
func EncodePartitionState(s PartitionState) []byte {
	o := newObj()
	o.num("controller_epoch", int64(s.ControllerEpoch))
	o.num("leader", int64(s.Leader))
	o.num("version", 1)
	if s.LeaderRecoveryState != 0 {
		o.num("leader_recovery_state", int64(s.LeaderRecoveryState))
	}
	o.num("leader_epoch", int64(s.LeaderEpoch))
	isr := s.ISR
	if isr == nil {
		isr = []int32{}
	}
	o.raw("isr", intArray(isr))
	return o.bytes()
}

func DecodePartitionState(data []byte) (PartitionState, error) {
	var raw struct {
		ControllerEpoch     int32   `json:"controller_epoch"`
		Leader              int32   `json:"leader"`
		LeaderEpoch         int32   `json:"leader_epoch"`
		ISR                 []int32 `json:"isr"`
		LeaderRecoveryState int8    `json:"leader_recovery_state"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return PartitionState{}, fmt.Errorf("partition state: %w", err)
	}
	return PartitionState{ControllerEpoch: raw.ControllerEpoch, Leader: raw.Leader, LeaderEpoch: raw.LeaderEpoch,
		ISR: raw.ISR, LeaderRecoveryState: raw.LeaderRecoveryState}, nil
}

// EncodeConfig writes {"version":1,"config":{...}} with java.util.Properties' order.
func EncodeConfig(cfg map[string]string) []byte {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	c := newObj()
	for _, k := range propertiesOrder(keys) {
		c.str(k, cfg[k])
	}
	o := newObj()
	o.num("version", 1)
	o.raw("config", c.bytes())
	return o.bytes()
}

func DecodeConfig(data []byte) (map[string]string, error) {
	var raw struct {
		Config map[string]string `json:"config"`
	}
	if len(data) == 0 {
		return map[string]string{}, nil
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("config znode: %w", err)
	}
	if raw.Config == nil {
		raw.Config = map[string]string{}
	}
	return raw.Config, nil
}

// ControllerInfo is /controller.
type ControllerInfo struct {
	BrokerID  int32
	Timestamp int64
}

// EncodeController writes Kafka 2.8's version-1 form.
func EncodeController(c ControllerInfo) []byte {
	o := newObj()
	o.num("version", 1)
	o.num("brokerid", int64(c.BrokerID))
	o.str("timestamp", strconv.FormatInt(c.Timestamp, 10))
	return o.bytes()
}

func DecodeController(data []byte) (ControllerInfo, error) {
	var raw struct {
		BrokerID  int32  `json:"brokerid"`
		Timestamp string `json:"timestamp"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return ControllerInfo{}, fmt.Errorf("/controller: %w", err)
	}
	ts, _ := strconv.ParseInt(raw.Timestamp, 10, 64)
	return ControllerInfo{BrokerID: raw.BrokerID, Timestamp: ts}, nil
}

// DecodeClusterID reads /cluster/id, {"version":"1","id":"<id>"}.
func DecodeClusterID(data []byte) (string, error) {
	var raw struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &raw); err != nil || raw.ID == "" {
		return "", fmt.Errorf("/cluster/id: unreadable %q", data)
	}
	return raw.ID, nil
}

// DecodeControllerEpoch reads /controller_epoch, a bare decimal number.
func DecodeControllerEpoch(data []byte) (int32, error) {
	e, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("/controller_epoch: %q is not an epoch", data)
	}
	return int32(e), nil
}

// DecodeConfigChange reads a /config/changes/config_change_<n> notification: the entity path
// ("topics/<t>") of version 2, or version 1's entity_type and entity_name.
func DecodeConfigChange(data []byte) (string, error) {
	var raw struct {
		EntityPath string `json:"entity_path"`
		EntityType string `json:"entity_type"`
		EntityName string `json:"entity_name"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return "", fmt.Errorf("config change notification: %w", err)
	}
	if raw.EntityPath == "" && raw.EntityType != "" {
		raw.EntityPath = raw.EntityType + "/" + raw.EntityName
	}
	return raw.EntityPath, nil
}

// DecodeProducerIDBlockEnd reads /latest_producer_id_block's block_end (a decimal string).
func DecodeProducerIDBlockEnd(data []byte) (int64, error) {
	var raw struct {
		End string `json:"block_end"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return 0, fmt.Errorf("%s: %w", producerIDBlockPath, err)
	}
	end, err := strconv.ParseInt(raw.End, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: block_end %q", producerIDBlockPath, raw.End)
	}
	return end, nil
}

func encodeClusterID(id string) []byte {
	o := newObj()
	o.str("version", "1")
	o.str("id", id)
	return o.bytes()
}

func encodeProducerBlock(broker int32, start, end int64) []byte {
	o := newObj()
	o.num("version", 1)
	o.num("broker", int64(broker))
	o.str("block_start", strconv.FormatInt(start, 10))
	o.str("block_end", strconv.FormatInt(end, 10))
	return o.bytes()
}

func encodeConfigChange(entityPath string) []byte {
	o := newObj()
	o.num("version", 2)
	o.str("entity_path", entityPath)
	return o.bytes()
}

func sortedInt32(m map[int32][]int32) []int32 {
	out := make([]int32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// PartitionRef names one partition in the admin znodes' JSON.
type PartitionRef struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

// DecodePartitionList reads /admin/preferred_replica_election (and /isr_change_notification
// entries): {"version":1,"partitions":[{"topic":"t","partition":0},...]}.
func DecodePartitionList(data []byte) ([]PartitionRef, error) {
	var raw struct {
		Version    int            `json:"version"`
		Partitions []PartitionRef `json:"partitions"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("partition list: %w", err)
	}
	if raw.Version != 1 {
		return nil, fmt.Errorf("partition list: version %d, want 1", raw.Version)
	}
	for _, p := range raw.Partitions {
		if p.Topic == "" || p.Partition < 0 {
			return nil, fmt.Errorf("partition list: bad entry %+v", p)
		}
	}
	return raw.Partitions, nil
}

// EncodePartitionList writes that JSON, Kafka's key order (version, partitions; topic,
// partition).
func EncodePartitionList(ps []PartitionRef) []byte {
	var b strings.Builder
	b.WriteString(`{"version":1,"partitions":[`)
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"topic":%s,"partition":%d}`, quoteJSON(p.Topic), p.Partition)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// Reassignment is one entry of /admin/reassign_partitions: the partition's target replicas.
type Reassignment struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
}

// DecodeReassignments reads /admin/reassign_partitions:
// {"version":1,"partitions":[{"topic":"foo","partition":0,"replicas":[1,2]}]}.
func DecodeReassignments(data []byte) ([]Reassignment, error) {
	var raw struct {
		Version    int            `json:"version"`
		Partitions []Reassignment `json:"partitions"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("reassignment: %w", err)
	}
	if raw.Version != 1 {
		return nil, fmt.Errorf("reassignment: version %d, want 1", raw.Version)
	}
	for _, r := range raw.Partitions {
		if r.Topic == "" || r.Partition < 0 || len(r.Replicas) == 0 {
			return nil, fmt.Errorf("reassignment: bad entry %+v", r)
		}
	}
	return raw.Partitions, nil
}

// EncodeReassignments writes that JSON in Kafka's key order.
func EncodeReassignments(rs []Reassignment) []byte {
	var b strings.Builder
	b.WriteString(`{"version":1,"partitions":[`)
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"topic":%s,"partition":%d,"replicas":%s}`, quoteJSON(r.Topic), r.Partition, intArray(r.Replicas))
	}
	b.WriteString("]}")
	return []byte(b.String())
}
