package config

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const minimal = "broker.id: 1\nzookeeper.connect: 127.0.0.1:2181/kafka\n"

func TestParseDefaults(t *testing.T) {
	b, err := Parse([]byte(minimal), "b.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.BrokerID != 1 || b.NumPartitions != 1 || b.DefaultReplicationFactor != 1 || b.LogSegmentBytes != 1<<30 ||
		b.LogRetentionMs != 168*3600*1000 || b.LogRollMs != 168*3600*1000 || b.MessageMaxBytes != 1048588 ||
		!b.AutoCreateTopicsEnable || b.SocketRequestMaxBytes != 104857600 || b.LogFlushIntervalMs != -1 ||
		b.ZookeeperSessionTimeoutMs != 18000 || b.ZookeeperConnectionTimeoutMs != 18000 ||
		len(b.LogDirs) != 1 || b.LogDirs[0] != "/tmp/kafka-logs" || b.InterBrokerListenerName != "PLAINTEXT" {
		t.Fatalf("defaults: %+v", b)
	}
	if len(b.Listeners) != 1 || b.Listeners[0].Port != 9092 || b.AdvertisedListeners[0] != b.Listeners[0] {
		t.Fatalf("listeners %+v advertised %+v", b.Listeners, b.AdvertisedListeners)
	}
}

func TestParseErrorsNameKeyAndFile(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        []string
		want       []string
	}{
		{"unknown key", minimal + "log.segment.byte: 5\n", nil, []string{"f.yaml", "log.segment.byte", "unknown key", "log.segment.bytes"}},
		{"bad integer", minimal + "log.segment.bytes: abc\n", nil, []string{"f.yaml", "log.segment.bytes", `"abc"`, "not an integer"}},
		{"below minimum", minimal + "log.segment.bytes: 10\n", nil, []string{"log.segment.bytes", "at least 14"}},
		{"bad bool", minimal + "auto.create.topics.enable: maybe\n", nil, []string{"auto.create.topics.enable", "true or false"}},
		{"missing broker.id", "zookeeper.connect: x:1\n", nil, []string{"f.yaml", "broker.id", "required"}},
		{"missing zookeeper.connect", "broker.id: 3\n", nil, []string{"f.yaml", "zookeeper.connect", "required"}},
		{"bad listener", minimal + "listeners: PLAINTEXT//x\n", nil, []string{"listeners", "NAME://host:port"}},
		{"advertised not a listener", minimal + "advertised.listeners: OTHER://h:1\n", nil, []string{"advertised.listeners", "OTHER"}},
		{"bad enum", minimal + "log.message.timestamp.type: Now\n", nil, []string{"log.message.timestamp.type", "CreateTime"}},
		{"bad env", minimal, []string{"KAFKA_LOG_DIRZ=/x"}, []string{"environment", "KAFKA_LOG_DIRZ"}},
		{"not yaml map", "- a\n- b\n", nil, []string{"f.yaml", "YAML"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "f.yaml", tc.env)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestEnvOverridesAndPrecedence(t *testing.T) {
	y := minimal + "log.dirs: [/a, /b]\nlog.retention.hours: 1\nlog.retention.minutes: 30\n"
	b, err := Parse([]byte(y), "f.yaml", []string{"KAFKA_LOG_DIRS=/x,/y", "KAFKA_HEAP_OPTS=-Xmx1G", "PATH=/bin",
		"KAFKA_BROKER_ID=7", "KAFKA_LISTENERS=PLAINTEXT://0.0.0.0:9093", "KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://broker7:9093"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(b.LogDirs, ",") != "/x,/y" || b.BrokerID != 7 || b.AdvertisedListeners[0].Host != "broker7" {
		t.Fatalf("env not applied: %+v", b)
	}
	if b.LogRetentionMs != 30*60_000 {
		t.Fatalf("retention %d: minutes must win over hours", b.LogRetentionMs)
	}
	if v, src, _ := b.Get("log.dirs"); v != "/x,/y" || src != SourceStaticBroker {
		t.Fatalf("Get(log.dirs) = %q %d", v, src)
	}
	if v, src, _ := b.Get("num.partitions"); v != "1" || src != SourceDefault {
		t.Fatalf("Get(num.partitions) = %q %d", v, src)
	}
}

func TestTopicConfigs(t *testing.T) {
	b, _ := Parse([]byte(minimal+"log.retention.ms: 5000\n"), "f", nil)
	if err := ValidateTopicConfigs(map[string]string{"retention.ms": "100", "cleanup.policy": "delete,compact"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []map[string]string{{"retention.msx": "1"}, {"retention.ms": "x"}, {"cleanup.policy": "keep"},
		{"compression.type": "brotli"}, {"segment.bytes": "5"}, {"min.cleanable.dirty.ratio": "2"}} {
		var ce *Error
		if err := ValidateTopicConfigs(bad); !errors.As(err, &ce) {
			t.Fatalf("%v accepted: %v", bad, err)
		}
	}
	tc, err := b.TopicConfig(map[string]string{"segment.bytes": "1048576"})
	if err != nil || tc.RetentionMs != 5000 || tc.SegmentBytes != 1<<20 || tc.CleanupPolicy != "delete" || tc.MaxMessageBytes != 1048588 {
		t.Fatalf("topic config %+v %v", tc, err)
	}
	rows := map[string]ConfigEntry{}
	for _, e := range b.DescribeTopic(map[string]string{"segment.bytes": "1048576"}) {
		rows[e.Name] = e
	}
	if e := rows["segment.bytes"]; e.Value != "1048576" || e.Source != SourceDynamicTopic || e.Synonyms[0].Source != SourceDynamicTopic {
		t.Fatalf("segment.bytes row %+v", e)
	}
	if e := rows["retention.ms"]; e.Value != "5000" || e.Source != SourceStaticBroker || e.Synonyms[0].Name != "log.retention.ms" {
		t.Fatalf("retention.ms row %+v", e)
	}
	if e := rows["cleanup.policy"]; e.Value != "delete" || e.Source != SourceDefault {
		t.Fatalf("cleanup.policy row %+v", e)
	}

	// message.timestamp.difference.max.ms: Kafka's Long.MaxValue default, the broker key, then
	// the topic override.
	if tc, _ := b.TopicConfig(nil); tc.TimestampDiffMaxMs != 1<<63-1 {
		t.Fatalf("default timestamp difference %d", tc.TimestampDiffMaxMs)
	}
	b2, _ := Parse([]byte(minimal+"log.message.timestamp.difference.max.ms: 3600000\n"), "f", nil)
	if tc, _ := b2.TopicConfig(nil); tc.TimestampDiffMaxMs != 3600000 {
		t.Fatalf("broker timestamp difference %d", tc.TimestampDiffMaxMs)
	}
	if tc, _ := b2.TopicConfig(map[string]string{"message.timestamp.difference.max.ms": "60000"}); tc.TimestampDiffMaxMs != 60000 {
		t.Fatalf("topic timestamp difference %d", tc.TimestampDiffMaxMs)
	}
}

func TestExampleConfigsLoad(t *testing.T) {
	files, _ := filepath.Glob("broker-*.yaml")
	if len(files) != 3 {
		t.Fatalf("example configs: %v", files)
	}
	ports := map[int]bool{}
	for _, f := range files {
		b, err := Load(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(b.ZookeeperConnect, "/kafka") || ports[b.Listeners[0].Port] {
			t.Fatalf("%s: %+v", f, b)
		}
		ports[b.Listeners[0].Port] = true
	}
	if _, err := Load("does-not-exist.yaml", nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "listeners: [PLAINTEXT://:1, X://h:2]\nlistener.security.protocol.map: PLAINTEXT:PLAINTEXT,X:PLAINTEXT\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data, "fuzz.yaml", nil)
		if err == nil && (b.BrokerID < 0 || b.ZookeeperConnect == "" || len(b.Listeners) == 0) {
			t.Fatalf("accepted an invalid config: %+v", b)
		}
	})
}

// TestCleanerConfigs: the log.cleaner.* broker keys have Kafka's defaults and supply the
// compaction topic configs' defaults; a topic override wins.
func TestCleanerConfigs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		yaml      string
		overrides map[string]string
		want      Topic
	}{
		{"defaults", "", nil, Topic{CleanupPolicy: "delete", DeleteRetentionMs: 86400000, MinCompactionLagMs: 0,
			MaxCompactionLagMs: math.MaxInt64, MinCleanableDirtyRatio: 0.5}},
		{"broker keys", "log.cleaner.delete.retention.ms: 1000\nlog.cleaner.min.compaction.lag.ms: 5\n" +
			"log.cleaner.max.compaction.lag.ms: 60000\nlog.cleaner.min.cleanable.ratio: 0.1\nlog.cleanup.policy: compact\n", nil,
			Topic{CleanupPolicy: "compact", DeleteRetentionMs: 1000, MinCompactionLagMs: 5, MaxCompactionLagMs: 60000, MinCleanableDirtyRatio: 0.1}},
		{"topic overrides", "log.cleaner.delete.retention.ms: 1000\n", map[string]string{"cleanup.policy": "delete,compact",
			"delete.retention.ms": "7", "min.compaction.lag.ms": "8", "max.compaction.lag.ms": "9", "min.cleanable.dirty.ratio": "0.01"},
			Topic{CleanupPolicy: "compact,delete", DeleteRetentionMs: 7, MinCompactionLagMs: 8, MaxCompactionLagMs: 9, MinCleanableDirtyRatio: 0.01}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse([]byte(minimal+tc.yaml), "f", nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.TopicConfig(tc.overrides)
			if err != nil {
				t.Fatal(err)
			}
			if got.CleanupPolicy != tc.want.CleanupPolicy || got.DeleteRetentionMs != tc.want.DeleteRetentionMs ||
				got.MinCompactionLagMs != tc.want.MinCompactionLagMs || got.MaxCompactionLagMs != tc.want.MaxCompactionLagMs ||
				got.MinCleanableDirtyRatio != tc.want.MinCleanableDirtyRatio {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	b := Default()
	if !b.LogCleanerEnable || b.LogCleanerThreads != 1 || b.LogCleanerDedupeBufferSize != 128<<20 ||
		b.LogCleanerBackoffMs != 15000 || b.LogCleanerIOBufferLoadFactor != 0.9 {
		t.Fatalf("cleaner defaults %+v", b)
	}
	if _, err := Parse([]byte(minimal+"log.cleaner.min.cleanable.ratio: 1.5\n"), "f", nil); err == nil {
		t.Fatal("ratio 1.5 accepted")
	}
}

func TestConnectionAndRequestLimits(t *testing.T) {
	b, err := Parse([]byte(minimal), "f", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.MaxConnections != 1<<31-1 || b.MaxConnectionsPerIP != 1<<31-1 || len(b.MaxConnectionsPerIPOverrides) != 0 ||
		b.QueuedMaxRequests != 500 || b.QueuedMaxRequestBytes != 256<<20 || b.FetchMaxBytes != 55<<20 ||
		b.FetchWaitMaxMs != 30000 || b.RequestTimeoutMaxMs != 30000 || b.MaxPartitionsPerTopic != 10000 || b.MaxPartitionsPerRequest != 10000 {
		t.Fatalf("limit defaults: %+v", b)
	}
	b, err = Parse([]byte(minimal+"max.connections.per.ip: 0\nmax.connections.per.ip.overrides: \"10.0.0.1:5, broker-2:100,[::1]:7\"\nqueued.max.request.bytes: -1\n"), "f", nil)
	if err != nil {
		t.Fatal(err)
	}
	if o := b.MaxConnectionsPerIPOverrides; len(o) != 3 || o["10.0.0.1"] != 5 || o["broker-2"] != 100 || o["::1"] != 7 || b.QueuedMaxRequestBytes != -1 {
		t.Fatalf("overrides %v, pool %d", o, b.QueuedMaxRequestBytes)
	}
	for _, tc := range []struct{ yaml, key string }{
		{"max.connections.per.ip: 0\n", "max.connections.per.ip"},
		{"max.connections.per.ip.overrides: host\n", "max.connections.per.ip.overrides"},
		{"max.connections.per.ip.overrides: \"host:-1\"\n", "max.connections.per.ip.overrides"},
		{"queued.max.request.bytes: 1000\n", "queued.max.request.bytes"},
		{"queued.max.request.bytes: 0\n", "queued.max.request.bytes"},
		{"queued.max.requests: 0\n", "queued.max.requests"},
		{"fetch.max.bytes: 10\n", "fetch.max.bytes"},
		{"gregor.max.partitions.per.topic: 0\n", "gregor.max.partitions.per.topic"},
	} {
		_, err := Parse([]byte(minimal+tc.yaml), "f", nil)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != tc.key {
			t.Errorf("%q: error %v, want one naming %s", tc.yaml, err, tc.key)
		}
	}
}
