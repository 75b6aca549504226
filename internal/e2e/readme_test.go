package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// walkthroughCommands are the command lines of the README's walkthrough: every line of every
// ```sh block between the walkthrough markers that is not blank or a comment, in order.
func walkthroughCommands(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testcluster.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	begin, end := strings.Index(s, "<!-- walkthrough:begin -->"), strings.Index(s, "<!-- walkthrough:end -->")
	if begin < 0 || end < begin {
		t.Fatal("README.md has no walkthrough markers")
	}
	var cmds []string
	inSh := false
	for _, line := range strings.Split(s[begin:end], "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			inSh = true
		case strings.HasPrefix(line, "```"):
			inSh = false
		case inSh && strings.TrimSpace(line) != "" && !strings.HasPrefix(strings.TrimSpace(line), "#"):
			cmds = append(cmds, strings.TrimSpace(line))
		}
	}
	return cmds
}

// readmeCheck judges one walkthrough command's stdout; poll repeats the command until the check
// passes (for state that settles after a crash), within a deadline.
type readmeCheck struct {
	check func(out string) error
	poll  bool
}

func outContains(subs ...string) func(string) error {
	return func(out string) error {
		for _, s := range subs {
			if !strings.Contains(out, s) {
				return fmt.Errorf("no %q", s)
			}
		}
		return nil
	}
}

func outMatches(re string) func(string) error {
	r := regexp.MustCompile(re)
	return func(out string) error {
		if !r.MatchString(out) {
			return fmt.Errorf("does not match %s", r)
		}
		return nil
	}
}

func outEquals(want string) func(string) error {
	return func(out string) error {
		if out != want {
			return fmt.Errorf("want %q", want)
		}
		return nil
	}
}

// TestReadmeWalkthrough runs the README's tutorial walkthrough command by command against a
// 3-broker cluster as scripts/cluster.sh starts it (ZooKeeper chroot /kafka), from the
// repository root, and checks what each command prints. Only the environment differs from a
// user's: the addresses of the harness's brokers and ZooKeeper stand for 127.0.0.1:9092..9094,
// 2181 and 7071..7073, its data directory for .cluster/, its binary for bin/gregor, and
// scripts/cluster.sh's up/kill/start/down are done by the harness. Every command must have a
// check here: a README command this test does not know fails it.
func TestReadmeWalkthrough(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 3, Config: groupTestConfig})
	bin := testcluster.Binary(t)
	root := filepath.Dir(filepath.Dir(c.Broker(1).DataDir)) // <dir>/broker-N/data, as .cluster/broker-N/data
	metrics := func(id int32) string {
		return strings.TrimSuffix(strings.TrimPrefix(c.MetricsURL(id), "http://"), "/metrics")
	}
	subst := strings.NewReplacer(
		"127.0.0.1:9092", c.Addr(1), "localhost:9092", c.Addr(1), "127.0.0.1:9093", c.Addr(2), "127.0.0.1:9094", c.Addr(3),
		"127.0.0.1:2181", c.ZK.Addr(), "127.0.0.1:7071", metrics(1), "127.0.0.1:7072", metrics(2), "127.0.0.1:7073", metrics(3),
		".cluster/", root+"/", "bin/gregor ", bin+" ")
	env := append(os.Environ(), "GREGOR_BIN="+bin, "GREGOR_BOOTSTRAP_SERVER="+c.Addr(1), "GREGOR_ZOOKEEPER="+c.ZK.Addr())

	lineCount := func(n int) func(string) error {
		return func(out string) error {
			if got := strings.Count(out, "\n"); got != n {
				return fmt.Errorf("%d lines, want %d", got, n)
			}
			return nil
		}
	}
	groupDescribe := func(group string, committed int) func(string) error {
		return func(out string) error {
			total := 0
			for _, r := range describeRows(t, out) {
				if r["GROUP"] != group || r["LAG"] != "0" {
					return fmt.Errorf("row %v: want group %s with lag 0", r, group)
				}
				n, _ := strconv.Atoi(r["CURRENT-OFFSET"])
				total += n
			}
			if total != committed {
				return fmt.Errorf("%d committed, want %d", total, committed)
			}
			return nil
		}
	}
	checks := map[string]readmeCheck{
		"bin/gregor topics create --topic orders --partitions 3 --replication-factor 3 --config retention.ms=604800000 --config min.insync.replicas=2": {check: outEquals("Created topic orders.\n")},
		"bin/gregor topics describe --topic orders": {check: outMatches(`^Topic: orders\tPartitionCount: 3\tReplicationFactor: 3\tConfigs: min.insync.replicas=2,retention.ms=604800000\n` +
			`(\tTopic: orders\tPartition: \d\tLeader: \d\tReplicas: \d,\d,\d\tIsr: \d,\d,\d\tOffsets: \d+\.\.\d+\n){3}$`)},
		"kcat -L -b 127.0.0.1:9092": {check: outContains(" 3 brokers:", `topic "orders" with 3 partitions:`)},
		`printf 'alice:{"order":1}\nbob:{"order":2}\n' | bin/gregor produce -t orders -K : -H source=shop`: {check: outEquals("")},
		`bin/gregor consume -t orders -o beginning -e -K ' => ' --headers`: {check: func(out string) error {
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			sort.Strings(lines)
			if want := []string{"source=shop\talice => {\"order\":1}", "source=shop\tbob => {\"order\":2}"}; strings.Join(lines, "|") != strings.Join(want, "|") {
				return fmt.Errorf("want %q", want)
			}
			return nil
		}},
		"ls .cluster/broker-*/data/orders-*/": {check: outContains("00000000000000000000.log", "00000000000000000000.index", "00000000000000000000.timeindex")},
		"bin/gregor dump-log --print-data-log --files .cluster/broker-2/data/orders-0/00000000000000000000.log": {check: outContains("Dumping ", "Starting offset: 0\n")},
		"/usr/share/zookeeper/bin/zkCli.sh -server 127.0.0.1:2181 ls /kafka/brokers/ids":                        {check: outContains("[1, 2, 3]")},
		"bin/zookeeper-shell.sh 127.0.0.1:2181/kafka ls /brokers/ids":                                           {check: outMatches(`^Connecting to .*\n(.*\n)*\[1, 2, 3\]\n$`)},
		"bin/gregor zk get /kafka/controller":                                                                   {check: outMatches(`^\{"version":1,"brokerid":[123],"timestamp":"\d+"\}\n$`)},
		"bin/gregor zk get /kafka/brokers/topics/orders":                                                        {check: outMatches(`^\{"partitions":\{"0":\[\d,\d,\d\],"1":\[\d,\d,\d\],"2":\[\d,\d,\d\]\}`)},
		"bin/gregor zk get /kafka/brokers/topics/orders/partitions/0/state":                                     {check: outMatches(`"leader":[123],.*"isr":\[\d,\d,\d\]`)},
		"bin/gregor zk get /kafka/config/topics/orders":                                                         {check: outEquals(`{"version":1,"config":{"min.insync.replicas":"2","retention.ms":"604800000"}}` + "\n")},
		"go run ./clients/examples/producer -brokers 127.0.0.1:9092 -n 100":                                     {check: outEquals("sent 100 orders to orders\n")},
		`bin/gregor consume -t orders -p 2 -o beginning -e | grep -c '"priority":true'`:                         {check: outEquals("10\n")},
		"go run ./clients/examples/consumer -brokers 127.0.0.1:9092 -group orders-app -max 102":                 {check: lineCount(100)}, // the two plain-JSON records of the first step are not orders
		"bin/gregor groups describe --group orders-app":                                                         {check: groupDescribe("orders-app", 102)},
		"bin/gregor consume -t orders --group audit -o beginning -c 102 > /dev/null":                            {check: outEquals("")},
		"bin/gregor groups reset-offsets --group audit --topic orders --to-earliest --execute":                  {check: outMatches(`NEW-OFFSET *\n(audit +orders +\d +0 *\n){3}\n?$`)},
		"bin/gregor dump-log --offsets-decoder --files .cluster/broker-*/data/__consumer_offsets-5/00000000000000000000.log": {
			check: outContains("key: offset_commit::group=orders-app,partition=orders-", "key: offset_commit::group=audit,partition=orders-", "key: group_metadata::group=orders-app")},
		"bin/gregor topics describe -b 127.0.0.1:9093 --topic orders": {check: func(out string) error {
			if n := strings.Count(out, "\tOffline: 1\t"); n != 3 {
				return fmt.Errorf("%d partitions with broker 1 offline, want 3", n)
			}
			return nil
		}, poll: true},
		"bin/gregor topics describe -b 127.0.0.1:9093 --under-replicated-partitions":                                                                             {check: outMatches(`^(\tTopic: orders\tPartition: \d\tLeader: [23]\tReplicas: \d,\d,\d\tIsr: [23],[23]\tOffline: 1\tOffsets: \d+\.\.\d+\n){3}$`), poll: true},
		"bin/gregor consume -b 127.0.0.1:9093 -t orders -o beginning -e | wc -l":                                                                                 {check: outEquals("102\n")},
		"bin/gregor topics describe --under-replicated-partitions":                                                                                               {check: outEquals(""), poll: true},
		"bin/kafka-topics.sh --create --topic quickstart-events --bootstrap-server localhost:9092":                                                               {check: outEquals("Created topic quickstart-events.\n")},
		"bin/kafka-topics.sh --describe --topic quickstart-events --bootstrap-server localhost:9092":                                                             {check: outMatches(`^Topic: quickstart-events\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \n\tTopic: quickstart-events\tPartition: 0\tLeader: \d\tReplicas: \d\tIsr: \d\n$`)},
		`printf 'This is my first event\nThis is my second event\n' | bin/kafka-console-producer.sh --topic quickstart-events --bootstrap-server localhost:9092`: {check: outEquals(">>>")},
		"bin/kafka-console-consumer.sh --topic quickstart-events --from-beginning --bootstrap-server localhost:9092 --max-messages 2":                            {check: outEquals("This is my first event\nThis is my second event\n")},
		"bin/kafka-configs.sh --bootstrap-server localhost:9092 --entity-type topics --entity-name orders --describe":                                            {check: outContains("Dynamic configs for topic orders are:\n", "  min.insync.replicas=2 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:min.insync.replicas=2")},
		"bin/kafka-consumer-groups.sh --bootstrap-server localhost:9092 --describe --group orders-app":                                                           {check: groupDescribe("orders-app", 102)},
		"bin/kafka-producer-perf-test.sh --topic perf --num-records 100000 --record-size 100 --throughput -1 --producer-props bootstrap.servers=localhost:9092 acks=all": {
			check: outMatches(`(?m)^100000 records sent, \d+\.\d{6} records/sec \(\d+\.\d{2} MB/sec\), \d+\.\d{2} ms avg latency, \d+\.\d{2} ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.\n$`)},
		"bin/kafka-consumer-perf-test.sh --bootstrap-server localhost:9092 --topic perf --messages 100000": {
			check: outMatches(`^start\.time, end\.time, data\.consumed\.in\.MB, MB\.sec, data\.consumed\.in\.nMsg, nMsg\.sec, rebalance\.time\.ms, fetch\.time\.ms, fetch\.MB\.sec, fetch\.nMsg\.sec\n[-\d: ]+, [-\d: ]+, 9\.5367, [\d.]+, 100000, [\d.]+, \d+, \d+, [\d.]+, [\d.]+\n$`)},
		`curl -s 127.0.0.1:7072/metrics | grep '^kafka_server_brokertopicmetrics_messagesin_total{topic="orders"}'`: {check: outMatches(`^kafka_server_brokertopicmetrics_messagesin_total\{topic="orders"\} [1-9]\d*\n$`)},
		`curl -s 127.0.0.1:7071/metrics | grep '^kafka_controller_kafkacontroller_activecontrollercount'`:           {check: outMatches(`^kafka_controller_kafkacontroller_activecontrollercount [01]\n$`)},
		`curl -s 127.0.0.1:7071/ | grep -o '<title>.*</title>'`:                                                     {check: outEquals("<title>Gregor cluster</title>\n")},
	}
	cmds := walkthroughCommands(t)
	if len(cmds) < 30 {
		t.Fatalf("only %d walkthrough commands found", len(cmds))
	}
	for i, line := range cmds {
		// A trailing "# comment" is the README's expected output for the reader.
		key := line
		if j := strings.Index(line, "  #"); j >= 0 {
			key = strings.TrimSpace(line[:j])
		}
		if f := strings.Fields(line); f[0] == "scripts/cluster.sh" {
			switch {
			case f[1] == "up" || f[1] == "down": // the harness started the cluster and stops it
			case f[1] == "kill":
				c.Kill(brokerArg(t, f[2]))
			case f[1] == "start":
				id := brokerArg(t, f[2])
				c.StartBroker(id)
				c.WaitRegistered(id, 60*time.Second)
			default:
				t.Fatalf("walkthrough step %d: scripts/cluster.sh %s is not known to this test", i+1, f[1])
			}
			continue
		}
		chk, ok := checks[key]
		if !ok {
			t.Fatalf("walkthrough step %d %q has no check in this test: add one", i+1, line)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			start := time.Now()
			cmd := exec.Command("bash", "-o", "pipefail", "-c", subst.Replace(line))
			cmd.Dir, cmd.Env = testcluster.RepoRoot(), env
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			err := cmd.Run()
			var verdict error
			switch {
			case err != nil:
				verdict = err
			case chk.check != nil:
				verdict = chk.check(out.String())
			}
			t.Logf("step %d (%v): %s", i+1, time.Since(start).Round(time.Millisecond), line)
			if verdict == nil {
				break
			}
			if !chk.poll || time.Now().After(deadline) {
				t.Fatalf("walkthrough step %d: %s\n%v\nstdout:\n%s\nstderr:\n%s", i+1, line, verdict, out.String(), errOut.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func brokerArg(t *testing.T, s string) int32 {
	id, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("broker id %q", s)
	}
	return int32(id)
}
