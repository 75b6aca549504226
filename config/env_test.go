package config

import (
	"strings"
	"testing"
)

// validValue is a value each key accepts: its default, or one made for keys without one.
func validValue(k keyDef) string {
	switch k.name {
	case "broker.id":
		return "42"
	case "zookeeper.connect":
		return "zk1:2181,zk2:2181/kafka"
	case "advertised.listeners":
		return "PLAINTEXT://broker42:9092"
	case "inter.broker.listener.name":
		return "PLAINTEXT"
	case "log.dirs":
		return "/var/lib/gregor"
	case "max.connections.per.ip.overrides":
		return "127.0.0.1:5"
	case "replica.selector.class":
		return "org.apache.kafka.common.replica.RackAwareReplicaSelector"
	}
	if k.def != "" {
		return k.def
	}
	switch k.typ {
	case TypeInt, TypeLong, TypeShort:
		return "60000"
	case TypeBoolean:
		return "true"
	}
	return "x"
}

// TestEveryKeyHasAVariable: each key the loader accepts can be set through its KAFKA_* name
// (and Bitnami's KAFKA_CFG_* one), and the variable wins over the file.
func TestEveryKeyHasAVariable(t *testing.T) {
	for _, prefix := range []string{"KAFKA_", "KAFKA_CFG_"} {
		for _, k := range brokerKeys {
			name := prefix + strings.TrimPrefix(EnvName(k.name), "KAFKA_")
			v := validValue(k)
			env := []string{name + "=" + v}
			yaml := minimal
			if k.name == "broker.id" || k.name == "zookeeper.connect" {
				yaml = "broker.id: 1\nzookeeper.connect: file:2181\n"
			}
			b, err := Parse([]byte(yaml), "f.yaml", env)
			if err != nil {
				t.Fatalf("%s=%s: %v", name, v, err)
			}
			got, src, ok := b.Get(k.name)
			if !ok || got != v || src != SourceStaticBroker {
				t.Fatalf("%s=%s: Get(%s) = %q, source %d", name, v, k.name, got, src)
			}
		}
	}
}

func TestCommonImageVariables(t *testing.T) {
	env := []string{
		"KAFKA_BROKER_ID=2",
		"KAFKA_ZOOKEEPER_CONNECT=zookeeper:2181/kafka",
		"KAFKA_LISTENERS=INTERNAL://0.0.0.0:19092,EXTERNAL://0.0.0.0:9093",
		"KAFKA_ADVERTISED_LISTENERS=INTERNAL://broker2:19092,EXTERNAL://localhost:9093",
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
		"KAFKA_INTER_BROKER_LISTENER_NAME=INTERNAL",
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=3",
		"KAFKA_DEFAULT_REPLICATION_FACTOR=3",
		"KAFKA_MIN_INSYNC_REPLICAS=2",
		"KAFKA_AUTO_CREATE_TOPICS_ENABLE=false",
		"KAFKA_BROKER_RACK=rack-b",
		"KAFKA_GREGOR_METRICS_LISTEN=0.0.0.0:9404",
		// JVM, JMX and log4j settings of the Kafka images are accepted and mean nothing here.
		"KAFKA_HEAP_OPTS=-Xmx1G", "KAFKA_JMX_PORT=9999", "KAFKA_LOG4J_ROOT_LOGLEVEL=WARN",
	}
	b, err := Parse([]byte("log.dirs: /data\n"), "broker.yaml", env)
	if err != nil {
		t.Fatal(err)
	}
	if b.BrokerID != 2 || b.ZookeeperConnect != "zookeeper:2181/kafka" || len(b.Listeners) != 2 ||
		b.AdvertisedListeners[1].Host != "localhost" || b.AdvertisedListeners[1].Port != 9093 ||
		b.ListenerSecurityProtocolMap["EXTERNAL"] != "PLAINTEXT" || b.InterBrokerListenerName != "INTERNAL" ||
		b.OffsetsTopicReplicationFactor != 3 || b.DefaultReplicationFactor != 3 || b.MinInsyncReplicas != 2 ||
		b.AutoCreateTopicsEnable || b.BrokerRack != "rack-b" || b.MetricsListen != "0.0.0.0:9404" {
		t.Fatalf("variables not applied: %+v", b)
	}
}

// TestWrongVariableNamesIt: a bad variable fails startup with an error naming the variable, not
// the file the key was not in.
func TestWrongVariableNamesIt(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		want []string
	}{
		{"unknown name", []string{"KAFKA_ZOOKEPER_CONNECT=zk:2181"}, []string{"environment", "KAFKA_ZOOKEPER_CONNECT", "did you mean zookeeper.connect"}},
		{"not an integer", []string{"KAFKA_BROKER_ID=one"}, []string{"environment", "KAFKA_BROKER_ID", "broker.id", `"one"`, "not an integer"}},
		{"bitnami prefix", []string{"KAFKA_CFG_NUM_PARTITIONS=0"}, []string{"KAFKA_CFG_NUM_PARTITIONS", "num.partitions"}},
		{"bad listener", []string{"KAFKA_LISTENERS=PLAINTEXT//:9092"}, []string{"KAFKA_LISTENERS", "NAME://host:port"}},
		{"listener not in the map", []string{"KAFKA_LISTENERS=INTERNAL://:19092"}, []string{"KAFKA_LISTENERS", "INTERNAL", "listener.security.protocol.map"}},
		{"inter-broker listener unknown", []string{"KAFKA_INTER_BROKER_LISTENER_NAME=INTERNAL"}, []string{"KAFKA_INTER_BROKER_LISTENER_NAME", "not one of listeners"}},
		{"advertised listener unknown", []string{"KAFKA_ADVERTISED_LISTENERS=EXTERNAL://localhost:9092"}, []string{"KAFKA_ADVERTISED_LISTENERS", "EXTERNAL"}},
		{"two variables disagree", []string{"KAFKA_BROKER_ID=1", "KAFKA_CFG_BROKER_ID=2"}, []string{"KAFKA_CFG_BROKER_ID", "KAFKA_BROKER_ID", "different value"}},
		{"bad bool", []string{"KAFKA_AUTO_CREATE_TOPICS_ENABLE=yes"}, []string{"KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true or false"}},
		{"empty required", []string{"KAFKA_ZOOKEEPER_CONNECT="}, []string{"KAFKA_ZOOKEEPER_CONNECT", "empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(minimal), "f.yaml", tc.env)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "f.yaml") {
				t.Fatalf("error %q blames the file, not the variable", err)
			}
		})
	}
}

func TestEnvNameRoundTrip(t *testing.T) {
	for _, k := range brokerKeys {
		if got := envKey(EnvName(k.name)); got != k.name {
			t.Fatalf("%s → %s → %s", k.name, EnvName(k.name), got)
		}
	}
	if EnvName("log.dirs") != "KAFKA_LOG_DIRS" || EnvName("a_b.c") != "KAFKA_A___B_C" {
		t.Fatal(EnvName("log.dirs"), EnvName("a_b.c"))
	}
}
