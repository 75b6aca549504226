package config

import (
	"errors"
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
