package zkmeta

import (
	"fmt"
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

func FuzzDecodeBroker(f *testing.F) {
	f.Add(EncodeBroker(BrokerInfo{Timestamp: 1, Endpoints: []Endpoint{{"PLAINTEXT", "h", 1, "PLAINTEXT"}}}))
	f.Add([]byte(`{"endpoints":["x"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := DecodeBroker(b)
		if err == nil && len(info.Endpoints) > 0 {
			if _, err := DecodeBroker(EncodeBroker(info)); err != nil {
				t.Fatalf("re-encode: %v", err)
			}
		}
	})
}

func FuzzDecodeTopic(f *testing.F) {
	f.Add(EncodeTopic(TopicAssignment{Partitions: map[int32][]int32{0: {1}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeTopic(b)
		if err == nil {
			back, err := DecodeTopic(EncodeTopic(a))
			if err != nil || len(back.Partitions) != len(a.Partitions) {
				t.Fatalf("re-encode: %v", err)
			}
		}
	})
}

func FuzzDecodePartitionState(f *testing.F) {
	f.Add(EncodePartitionState(PartitionState{Leader: 1, ISR: []int32{1}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodePartitionState(b)
		if err == nil {
			if back, err := DecodePartitionState(EncodePartitionState(s)); err != nil || back.Leader != s.Leader {
				t.Fatalf("re-encode: %v", err)
			}
		}
	})
}
