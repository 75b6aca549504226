package config

import (
	"reflect"
	"strings"
	"testing"
)

const throttleFormatErr = "leader.replication.throttled.replicas must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],..."

func TestParseThrottledReplicas(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ThrottledReplicas
		err  bool
	}{
		{"", ThrottledReplicas{}, false},
		{"*", ThrottledReplicas{All: true}, false},
		{" * ", ThrottledReplicas{All: true}, false},
		{"*,", ThrottledReplicas{All: true}, false}, // Java's split drops the empty tail; Kafka accepts it
		{"0:1", ThrottledReplicas{Replicas: []ThrottledReplica{{0, 1}}}, false},
		{"0:1,1:2, 2:3 ", ThrottledReplicas{Replicas: []ThrottledReplica{{0, 1}, {1, 2}, {2, 3}}}, false},
		{"0:1,,1:2,", ThrottledReplicas{Replicas: []ThrottledReplica{{0, 1}, {1, 2}}}, false}, // empty entries match Kafka's ( ... )?
		{"0:1,*", ThrottledReplicas{}, true},
		{"*:1", ThrottledReplicas{}, true},
		{"0", ThrottledReplicas{}, true},
		{"0:", ThrottledReplicas{}, true},
		{":1", ThrottledReplicas{}, true},
		{"0:1:2", ThrottledReplicas{}, true},
		{"-1:1", ThrottledReplicas{}, true},
		{"0:+1", ThrottledReplicas{}, true},
		{"0 : 1", ThrottledReplicas{}, true}, // Kafka trims entries, not their halves
		{"a:b", ThrottledReplicas{}, true},
		{"0:99999999999", ThrottledReplicas{}, true},
		{"**", ThrottledReplicas{}, true},
	} {
		got, err := ParseThrottledReplicas(LeaderThrottledReplicas, tc.in)
		if tc.err {
			if err == nil || err.Error() != throttleFormatErr {
				t.Errorf("%q: error %v, want Kafka's format error", tc.in, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestThrottledReplicasOn(t *testing.T) {
	l, _ := ParseThrottledReplicas(LeaderThrottledReplicas, "0:1,1:2,2:1,3:3")
	for _, tc := range []struct {
		broker int32
		want   []int32
	}{{1, []int32{0, 2}}, {2, []int32{1}}, {4, nil}} {
		all, parts := l.On(tc.broker)
		if all || !reflect.DeepEqual(parts, tc.want) {
			t.Errorf("broker %d: all %v %v, want %v", tc.broker, all, parts, tc.want)
		}
	}
	if all, _ := (ThrottledReplicas{All: true}).On(7); !all {
		t.Error("* does not throttle every partition")
	}
	if got := l.Format(); got != "0:1,1:2,2:1,3:3" {
		t.Errorf("Format %q", got)
	}
}

// TestThrottledReplicasTopicConfig: the topic configs are validated with Kafka's message, as
// AlterConfigs and CreateTopics see it.
func TestThrottledReplicasTopicConfig(t *testing.T) {
	if err := ValidateTopicConfigs(map[string]string{LeaderThrottledReplicas: "0:1,1:2", FollowerThrottledReplicas: "*"}); err != nil {
		t.Fatal(err)
	}
	err := ValidateTopicConfigs(map[string]string{LeaderThrottledReplicas: "0-1"})
	if err == nil || !strings.Contains(err.Error(), throttleFormatErr) || !strings.Contains(err.Error(), `"0-1"`) {
		t.Fatalf("bad list: %v", err)
	}
	l, f, err := TopicThrottles(map[string]string{LeaderThrottledReplicas: "0:1", FollowerThrottledReplicas: " "})
	if err != nil || l.Empty() || !f.Empty() {
		t.Fatalf("TopicThrottles: %+v %+v %v", l, f, err)
	}
}

func FuzzParseThrottledReplicas(f *testing.F) {
	for _, s := range []string{"", "*", "0:1,1:2", " 3:4 ,", "0:1,*", "a:b", "0:99999999999", ",*,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseThrottledReplicas(FollowerThrottledReplicas, s)
		if err != nil {
			return
		}
		// What is accepted formats back to a list that parses to the same value.
		again, err := ParseThrottledReplicas(FollowerThrottledReplicas, got.Format())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("%q -> %q -> %+v %v", s, got.Format(), again, err)
		}
		for _, r := range got.Replicas {
			if r.Partition < 0 || r.Broker < 0 {
				t.Fatalf("%q: negative id %+v", s, r)
			}
		}
	})
}

func TestValidateDynamicBrokerConfigs(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  map[string]string
		want string // "" valid
	}{
		{"rates", map[string]string{LeaderThrottledRate: "1000", FollowerThrottledRate: "0", AlterLogDirsThrottledRate: "9223372036854775807"}, ""},
		{"empty", map[string]string{}, ""},
		{"static key", map[string]string{"log.dirs": "/x", "broker.id": "3", LeaderThrottledRate: "1"}, "Cannot update these configs dynamically: Set(broker.id, log.dirs)"},
		{"kafka-dynamic key", map[string]string{"log.retention.ms": "5"}, "Gregor cannot update these configs dynamically yet (Kafka can): Set(log.retention.ms); set them in the broker's config file"},
		{"unknown key", map[string]string{"no.such.key": "5"}, "Unknown broker configs: Set(no.such.key)"},
		{"not a number", map[string]string{LeaderThrottledRate: "fast"}, "Invalid value fast for configuration leader.replication.throttled.rate: Not a number of type LONG"},
		{"negative", map[string]string{FollowerThrottledRate: "-1"}, "Invalid value -1 for configuration follower.replication.throttled.rate: Value must be at least 0"},
	} {
		err := ValidateDynamicBrokerConfigs(tc.cfg)
		if got := errText(err); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestEffectiveThrottleRates(t *testing.T) {
	for _, tc := range []struct {
		name          string
		own, defaults map[string]string
		want          ThrottleRates
		err           bool
	}{
		{"none", nil, nil, ThrottleRates{UnlimitedRate, UnlimitedRate, UnlimitedRate}, false},
		{"default only", nil, map[string]string{LeaderThrottledRate: "10"}, ThrottleRates{10, UnlimitedRate, UnlimitedRate}, false},
		{"own wins", map[string]string{LeaderThrottledRate: "5", FollowerThrottledRate: "7"}, map[string]string{LeaderThrottledRate: "10"},
			ThrottleRates{5, 7, UnlimitedRate}, false},
		{"bad own falls back to default", map[string]string{LeaderThrottledRate: "x"}, map[string]string{LeaderThrottledRate: "10"},
			ThrottleRates{10, UnlimitedRate, UnlimitedRate}, true},
	} {
		got, err := EffectiveThrottleRates(tc.own, tc.defaults)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%s: %+v %v, want %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestDescribeDynamic(t *testing.T) {
	b := Default()
	own := map[string]string{LeaderThrottledRate: "100"}
	defaults := map[string]string{LeaderThrottledRate: "200", FollowerThrottledRate: "300"}
	find := func(es []ConfigEntry, name string) (ConfigEntry, bool) {
		for _, e := range es {
			if e.Name == name {
				return e, true
			}
		}
		return ConfigEntry{}, false
	}
	es := b.DescribeDynamic(true, own, defaults)
	if len(es) != len(b.Describe())+2 {
		t.Fatalf("%d entries, want the %d static ones and 2 dynamic", len(es), len(b.Describe()))
	}
	l, _ := find(es, LeaderThrottledRate)
	if l.Value != "100" || l.Source != SourceDynamicBroker || l.ReadOnly || len(l.Synonyms) != 2 ||
		l.Synonyms[1] != (Synonym{LeaderThrottledRate, "200", SourceDynamicDefaultBroker}) {
		t.Fatalf("leader rate: %+v", l)
	}
	if f, _ := find(es, FollowerThrottledRate); f.Value != "300" || f.Source != SourceDynamicDefaultBroker {
		t.Fatalf("follower rate: %+v", f)
	}
	if _, ok := find(es, AlterLogDirsThrottledRate); ok {
		t.Fatal("an unset dynamic key is listed (Kafka 2.8 lists only those set)")
	}
	es = b.DescribeDynamic(false, own, defaults)
	if len(es) != 2 || es[0].Value != "200" || es[0].Source != SourceDynamicDefaultBroker {
		t.Fatalf("cluster default: %+v", es)
	}
}
