package zkmeta

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestEncodersMatchKafka(t *testing.T) {
	id, _ := ParseUUID("cMr3GpVESX2L3byPGf93lQ")
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"broker v5", EncodeBroker(BrokerInfo{ID: 0, Timestamp: 1700000000000, Endpoints: []Endpoint{{"PLAINTEXT", "localhost", 9092, "PLAINTEXT"}}}),
			`{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://localhost:9092"],"jmx_port":-1,"port":9092,"host":"localhost","version":5,"timestamp":"1700000000000"}`},
		{"broker with rack", EncodeBroker(BrokerInfo{Rack: "r1", Timestamp: 5, Endpoints: []Endpoint{{"PLAINTEXT", "b1", 9092, "PLAINTEXT"}}}),
			`{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://b1:9092"],"rack":"r1","jmx_port":-1,"port":9092,"host":"b1","version":5,"timestamp":"5"}`},
		{"broker two listeners", EncodeBroker(BrokerInfo{Timestamp: 5, Endpoints: []Endpoint{{"INTERNAL", "b1", 19092, "PLAINTEXT"}, {"EXTERNAL", "localhost", 9092, "PLAINTEXT"}}}),
			`{"features":{},"listener_security_protocol_map":{"INTERNAL":"PLAINTEXT","EXTERNAL":"PLAINTEXT"},"endpoints":["INTERNAL://b1:19092","EXTERNAL://localhost:9092"],"jmx_port":-1,"port":19092,"host":"b1","version":5,"timestamp":"5"}`},
		{"topic", EncodeTopic(TopicAssignment{TopicID: id, Partitions: map[int32][]int32{0: {2, 3, 1}, 1: {3, 1, 2}, 2: {1, 2, 3}}}),
			`{"partitions":{"0":[2,3,1],"1":[3,1,2],"2":[1,2,3]},"topic_id":"cMr3GpVESX2L3byPGf93lQ","adding_replicas":{},"removing_replicas":{},"version":3}`},
		{"state", EncodePartitionState(PartitionState{ControllerEpoch: 1, Leader: 2, LeaderEpoch: 0, ISR: []int32{2, 3, 1}}),
			`{"controller_epoch":1,"leader":2,"version":1,"leader_epoch":0,"isr":[2,3,1]}`},
		{"state recovering", EncodePartitionState(PartitionState{ControllerEpoch: 2, Leader: 3, LeaderEpoch: 5, ISR: []int32{3}, LeaderRecoveryState: 1}),
			`{"controller_epoch":2,"leader":3,"version":1,"leader_recovery_state":1,"leader_epoch":5,"isr":[3]}`},
		{"empty config", EncodeConfig(nil), `{"version":1,"config":{}}`},
		{"config order", EncodeConfig(map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"}),
			`{"version":1,"config":{"cleanup.policy":"compact","retention.ms":"1000"}}`},
		{"offsets topic config", EncodeConfig(map[string]string{"segment.bytes": "104857600", "cleanup.policy": "compact", "compression.type": "producer"}),
			`{"version":1,"config":{"compression.type":"producer","cleanup.policy":"compact","segment.bytes":"104857600"}}`},
		{"controller", EncodeController(ControllerInfo{BrokerID: 0, Timestamp: 1535943857541}), `{"version":1,"brokerid":0,"timestamp":"1535943857541"}`},
		{"cluster id", encodeClusterID("IOejp_IKSbWbySJc0sRrKw"), `{"version":"1","id":"IOejp_IKSbWbySJc0sRrKw"}`},
		{"producer block", encodeProducerBlock(0, 0, 999), `{"version":1,"broker":0,"block_start":"0","block_end":"999"}`},
		{"config change", encodeConfigChange("topics/test"), `{"version":2,"entity_path":"topics/test"}`},
		// Orders computed outside this code from Java's String.hashCode: buckets 6 and 10 of 16.
		{"broker throttle config", EncodeConfig(map[string]string{"follower.replication.throttled.rate": "1000", "leader.replication.throttled.rate": "2000"}),
			`{"version":1,"config":{"leader.replication.throttled.rate":"2000","follower.replication.throttled.rate":"1000"}}`},
		{"broker throttle config with alter-log-dirs", EncodeConfig(map[string]string{"replica.alter.log.dirs.io.max.bytes.per.second": "5", "follower.replication.throttled.rate": "1000", "leader.replication.throttled.rate": "2000"}),
			`{"version":1,"config":{"leader.replication.throttled.rate":"2000","follower.replication.throttled.rate":"1000","replica.alter.log.dirs.io.max.bytes.per.second":"5"}}`},
		{"topic throttled replicas", EncodeConfig(map[string]string{"follower.replication.throttled.replicas": "0:2,1:3", "leader.replication.throttled.replicas": "0:1,1:1"}),
			`{"version":1,"config":{"leader.replication.throttled.replicas":"0:1,1:1","follower.replication.throttled.replicas":"0:2,1:3"}}`},
		{"broker config change", encodeConfigChange("brokers/1"), `{"version":2,"entity_path":"brokers/1"}`},
		{"default broker config change", encodeConfigChange("brokers/" + DefaultConfigEntity), `{"version":2,"entity_path":"brokers/<default>"}`},
	}
	for _, tc := range cases {
		if string(tc.got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
	}
}

func TestPartitionKeyOrder(t *testing.T) {
	keys := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strconv.Itoa(i)
		}
		return out
	}
	rng := func(a, b int) []string {
		var out []string
		for i := a; i <= b; i++ {
			out = append(out, strconv.Itoa(i))
		}
		return out
	}
	join := func(parts ...[]string) string {
		var all []string
		for _, p := range parts {
			all = append(all, p...)
		}
		return strings.Join(all, ",")
	}
	cases := []struct {
		n    int
		want string
	}{
		{3, "0,1,2"},
		{11, join(rng(0, 10))},
		{12, join([]string{"11"}, rng(0, 10))},
		{16, join(rng(11, 15), rng(0, 10))},
		{20, join(rng(11, 19), rng(0, 10))},
		{24, join([]string{"22", "23"}, rng(10, 19), rng(0, 9), []string{"20", "21"})},
		{50, join(rng(44, 49), rng(10, 19), rng(0, 9), rng(20, 43))},
	}
	for _, tc := range cases {
		if got := strings.Join(scalaHashMapOrder(keys(tc.n)), ","); got != tc.want {
			t.Errorf("n=%d:\n got %s\nwant %s", tc.n, got, tc.want)
		}
	}
}

func TestDecodeOlderVariants(t *testing.T) {
	b, err := DecodeBroker([]byte(`{"jmx_port":-1,"timestamp":"1","endpoints":["PLAINTEXT://h:9092"],"host":"h","version":2,"port":9092}`))
	if err != nil || len(b.Endpoints) != 1 || b.Endpoints[0].SecurityProtocol != "PLAINTEXT" || b.Endpoints[0].Port != 9092 {
		t.Fatalf("broker v2: %+v %v", b, err)
	}
	b, err = DecodeBroker([]byte(`{"jmx_port":-1,"timestamp":"1","host":"old","version":1,"port":9092}`))
	if err != nil || len(b.Endpoints) != 1 || b.Endpoints[0].Host != "old" {
		t.Fatalf("broker v1: %+v %v", b, err)
	}
	a, err := DecodeTopic([]byte(`{"version":1,"partitions":{"0":[1],"1":[1]}}`))
	if err != nil || len(a.Partitions) != 2 || a.TopicID != ([16]byte{}) {
		t.Fatalf("topic v1: %+v %v", a, err)
	}
	s, err := DecodePartitionState([]byte(`{"controller_epoch":1,"leader":-1,"version":1,"leader_epoch":1,"isr":[0]}`))
	if err != nil || s.Leader != -1 || s.LeaderEpoch != 1 || fmt.Sprint(s.ISR) != "[0]" {
		t.Fatalf("state: %+v %v", s, err)
	}
	c, err := DecodeController([]byte(`{"version":2,"brokerid":1,"timestamp":"1704032949256","kraftControllerEpoch":-1}`))
	if err != nil || c.BrokerID != 1 {
		t.Fatalf("controller v2: %+v %v", c, err)
	}
}

func TestUUID(t *testing.T) {
	for i := 0; i < 1000; i++ {
		id := NewUUID()
		s := UUIDString(id)
		if len(s) != 22 || s[0] == '-' || id == reservedUUID {
			t.Fatalf("bad id %s", s)
		}
		back, err := ParseUUID(s)
		if err != nil || back != id {
			t.Fatalf("round trip %s", s)
		}
	}
}

// The three znode fuzz targets check the full round trip: whatever decodes, encoded again,
// decodes to the same value (every field), and that encoding is a fixed point — encoding what
// it decodes to gives the same bytes, so Kafka-exact output is stable.

func FuzzDecodeBroker(f *testing.F) {
	f.Add(EncodeBroker(BrokerInfo{Timestamp: 1, Endpoints: []Endpoint{{"PLAINTEXT", "h", 1, "PLAINTEXT"}}}))
	f.Add(EncodeBroker(BrokerInfo{Timestamp: 1700000000000, Rack: "r1", JMXPort: 9999, Endpoints: []Endpoint{
		{"INTERNAL", "10.0.0.1", 19092, "PLAINTEXT"}, {"EXTERNAL", "example.com", 9092, "SSL"}}}))
	f.Add([]byte(`{"endpoints":["x"]}`))
	f.Add([]byte(`{"version":1,"host":"h","port":9092,"jmx_port":-1,"timestamp":"5"}`))
	f.Add([]byte(`{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://127.0.0.1:9092"],"rack":"r","jmx_port":-1,"port":9092,"host":"127.0.0.1","version":5,"timestamp":"1700000000000"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := DecodeBroker(b)
		if err != nil || len(info.Endpoints) == 0 {
			return
		}
		enc := EncodeBroker(info)
		back, err := DecodeBroker(enc)
		if err != nil {
			t.Fatalf("re-encode %s: %v", enc, err)
		}
		if !reflect.DeepEqual(back, info) {
			t.Fatalf("round trip changed the registration:\n%+v\n%+v\n%s", info, back, enc)
		}
		if again := EncodeBroker(back); !bytes.Equal(again, enc) {
			t.Fatalf("encoding not stable:\n%s\n%s", enc, again)
		}
	})
}

func FuzzDecodeTopic(f *testing.F) {
	f.Add(EncodeTopic(TopicAssignment{Partitions: map[int32][]int32{0: {1}}}))
	f.Add(EncodeTopic(TopicAssignment{TopicID: [16]byte{1, 2, 3}, Partitions: map[int32][]int32{0: {1, 2}, 1: {2, 3}, 2: {3, 1}},
		Adding: map[int32][]int32{1: {3}}, Removing: map[int32][]int32{}}))
	f.Add([]byte(`{"version":1,"partitions":{"0":[1],"1":[1]}}`))
	f.Add([]byte(`{"partitions":{"0":[2,3],"1":[3,1]},"topic_id":"cMr3GpVESX2L3byPGf93lQ","adding_replicas":{"1":[1]},"removing_replicas":{},"version":3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeTopic(b)
		if err != nil {
			return
		}
		enc := EncodeTopic(a)
		back, err := DecodeTopic(enc)
		if err != nil {
			t.Fatalf("re-encode %s: %v", enc, err)
		}
		if !sameAssignment(back, a) {
			t.Fatalf("round trip changed the assignment:\n%+v\n%+v\n%s", a, back, enc)
		}
		if again := EncodeTopic(back); !bytes.Equal(again, enc) {
			t.Fatalf("encoding not stable:\n%s\n%s", enc, again)
		}
	})
}

// sameAssignment compares assignments with an absent and an empty replica map alike (both
// encode as {}).
func sameAssignment(x, y TopicAssignment) bool {
	eq := func(a, b map[int32][]int32) bool {
		if len(a) != len(b) {
			return false
		}
		for p, rs := range a {
			if o, ok := b[p]; !ok || !slices.Equal(rs, o) {
				return false
			}
		}
		return true
	}
	return x.Topic == y.Topic && x.TopicID == y.TopicID && x.ZkVersion == y.ZkVersion &&
		eq(x.Partitions, y.Partitions) && eq(x.Adding, y.Adding) && eq(x.Removing, y.Removing)
}

func FuzzDecodePartitionState(f *testing.F) {
	f.Add(EncodePartitionState(PartitionState{Leader: 1, ISR: []int32{1}}))
	f.Add(EncodePartitionState(PartitionState{ControllerEpoch: 7, Leader: -1, LeaderEpoch: 12, ISR: []int32{3, 1, 2}, LeaderRecoveryState: 1}))
	// Kafka's own bytes as seeds too: seeds made by EncodePartitionState alone could not catch an
	// encoder that drops a field.
	f.Add([]byte(`{"controller_epoch":3,"leader":2,"version":1,"leader_epoch":5,"isr":[2,1]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodePartitionState(b)
		if err != nil {
			return
		}
		enc := EncodePartitionState(s)
		back, err := DecodePartitionState(enc)
		if err != nil {
			t.Fatalf("re-encode %s: %v", enc, err)
		}
		if back.ControllerEpoch != s.ControllerEpoch || back.Leader != s.Leader || back.LeaderEpoch != s.LeaderEpoch ||
			!slices.Equal(back.ISR, s.ISR) || back.LeaderRecoveryState != s.LeaderRecoveryState || back.ZkVersion != s.ZkVersion {
			t.Fatalf("round trip changed the state:\n%+v\n%+v\n%s", s, back, enc)
		}
		if again := EncodePartitionState(back); !bytes.Equal(again, enc) {
			t.Fatalf("encoding not stable:\n%s\n%s", enc, again)
		}
	})
}
