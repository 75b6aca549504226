package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestZooKeeperLayoutAfterClusterUp runs the README's first command, `scripts/cluster.sh up 1`,
// creates a topic with the gregor CLI, and checks every znode a Kafka tutorial shows against
// Apache Kafka 2.8's exact JSON (key order included), then `zkCli.sh ls /kafka/brokers/ids`.
func TestZooKeeperLayoutAfterClusterUp(t *testing.T) {
	root := testcluster.RepoRoot()
	if l, err := net.Listen("tcp", "127.0.0.1:2181"); err != nil {
		t.Fatalf("port 2181 is busy (a local cluster running? `scripts/cluster.sh down`): %v", err)
	} else {
		l.Close()
	}
	clusterDir := t.TempDir()
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GREGOR_CLUSTER_DIR="+clusterDir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		cmd := exec.Command("scripts/cluster.sh", "down")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GREGOR_CLUSTER_DIR="+clusterDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("cluster.sh down: %v\n%s", err, out)
		}
	})
	run("scripts/cluster.sh", "up", "1")

	const topic = "zk-layout"
	gregor := testcluster.Binary(t)
	run(gregor, "topics", "create", "--bootstrap-server", "127.0.0.1:9092", "--topic", topic,
		"--partitions", "1", "--replication-factor", "1", "--config", "retention.ms=3600000")

	conn, ev, err := zk.Connect([]string{"127.0.0.1:2181"}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sessionDeadline := time.After(60 * time.Second)
	for session := false; !session; {
		select {
		case e := <-ev:
			session = e.State == zk.StateHasSession
		case <-sessionDeadline:
			t.Fatal("no ZooKeeper session within 60s")
		}
	}
	get := func(path string) (string, *zk.Stat) {
		t.Helper()
		data, st, err := conn.Get(path)
		if err != nil {
			t.Fatalf("get %s: %v", path, err)
		}
		return string(data), st
	}
	match := func(path, pattern string) []string {
		t.Helper()
		data, _ := get(path)
		m := regexp.MustCompile("^" + pattern + "$").FindStringSubmatch(data)
		if m == nil {
			t.Fatalf("%s = %s\nwant (regexp) %s", path, data, pattern)
		}
		return m
	}
	q := regexp.QuoteMeta

	_, st := get("/kafka/brokers/ids/1")
	if st.EphemeralOwner == 0 || st.Version != 1 {
		t.Fatalf("/kafka/brokers/ids/1: ephemeralOwner %d dataVersion %d, want ephemeral with dataVersion 1", st.EphemeralOwner, st.Version)
	}
	match("/kafka/brokers/ids/1", q(`{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://127.0.0.1:9092"],"jmx_port":-1,"port":9092,"host":"127.0.0.1","version":5,"timestamp":"`)+`\d{13}"}`)

	_, cst := get("/kafka/controller")
	if cst.EphemeralOwner == 0 {
		t.Fatal("/kafka/controller is not ephemeral")
	}
	match("/kafka/controller", q(`{"version":1,"brokerid":1,"timestamp":"`)+`\d{13}"}`)
	epochText, _ := get("/kafka/controller_epoch")
	epoch, err := strconv.Atoi(epochText)
	if err != nil || epoch < 1 {
		t.Fatalf("/kafka/controller_epoch = %q, want a positive decimal", epochText)
	}
	clusterID := match("/kafka/cluster/id", q(`{"version":"1","id":"`)+`([A-Za-z0-9_-]{22})"}`)[1]

	m := match("/kafka/brokers/topics/"+topic, q(`{"partitions":{"0":[1]},"topic_id":"`)+`([A-Za-z0-9_-]{22})`+q(`","adding_replicas":{},"removing_replicas":{},"version":3}`))
	topicID := m[1]
	match("/kafka/brokers/topics/"+topic+"/partitions/0/state",
		q(fmt.Sprintf(`{"controller_epoch":%d,"leader":1,"version":1,"leader_epoch":0,"isr":[1]}`, epoch)))
	match("/kafka/config/topics/"+topic, q(`{"version":1,"config":{"retention.ms":"3600000"}}`))

	// The topic id in ZooKeeper is the one clients see in Metadata.
	adm := newAdmin(t, "127.0.0.1:9092")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	id := md.Topics[topic].ID
	if got := base64.RawURLEncoding.EncodeToString(id[:]); got != topicID {
		t.Fatalf("Metadata topic id %s, znode topic_id %s", got, topicID)
	}

	// Kafka's persistent top-level paths are all there.
	children, _, err := conn.Children("/kafka")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"admin", "brokers", "cluster", "config", "consumers", "controller", "controller_epoch", "feature", "isr_change_notification", "latest_producer_id_block", "log_dir_event_notification"} {
		if !contains(children, want) {
			t.Fatalf("ls /kafka = %v, missing %s", children, want)
		}
	}

	zkCli := "/usr/share/zookeeper/bin/zkCli.sh"
	out := run(zkCli, "-server", "127.0.0.1:2181", "ls", "/kafka/brokers/ids")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "[1]" {
		t.Fatalf("zkCli.sh ls /kafka/brokers/ids printed %q, want [1]\n%s", last, out)
	}

	// The cluster's data lives where the README says, in GREGOR_CLUSTER_DIR: the broker's log
	// dir holds meta.properties naming this cluster and broker, and the topic's partition
	// directory in Kafka's file layout.
	dataDir := filepath.Join(clusterDir, "broker-1", "data")
	meta, err := os.ReadFile(filepath.Join(dataDir, "meta.properties"))
	if err != nil {
		t.Fatalf("meta.properties in GREGOR_CLUSTER_DIR: %v", err)
	}
	props := map[string]string{}
	for _, line := range strings.Split(string(meta), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			props[k] = v
		}
	}
	if props["cluster.id"] != clusterID || props["broker.id"] != "1" || props["version"] != "0" {
		t.Fatalf("meta.properties %v, want cluster.id %s, broker.id 1, version 0:\n%s", props, clusterID, meta)
	}
	for _, f := range []string{"00000000000000000000.log", "00000000000000000000.index", "00000000000000000000.timeindex"} {
		if _, err := os.Stat(filepath.Join(dataDir, topic+"-0", f)); err != nil {
			t.Fatalf("partition file in GREGOR_CLUSTER_DIR: %v", err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
