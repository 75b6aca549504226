package e2e

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-broker/gregor/internal/testcluster"
	"github.com/gregor-broker/gregor/internal/zktest"
)

// kafkaTool runs a command line from the repository root through bash, as a user types it
// there, with the launchers pointed at the test's binary; "localhost:9092" in the line is the
// cluster's address (the only substitution).
type kafkaTool struct {
	t         *testing.T
	bootstrap string
	env       []string
}

func newKafkaTool(t *testing.T, bootstrap string) *kafkaTool {
	return &kafkaTool{t: t, bootstrap: bootstrap, env: append(os.Environ(), "GREGOR_BIN="+testcluster.Binary(t))}
}

func (k *kafkaTool) cmd(line string) *exec.Cmd {
	line = strings.ReplaceAll(line, "localhost:9092", k.bootstrap)
	cmd := exec.Command("bash", "-c", line)
	cmd.Dir = testcluster.RepoRoot()
	cmd.Env = k.env
	return cmd
}

// run runs line with stdin and returns stdout, stderr and the exit status.
func (k *kafkaTool) run(line, stdin string) (string, string, int) {
	k.t.Helper()
	cmd := k.cmd(line)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		k.t.Fatalf("%s: %v", line, err)
	}
	return out.String(), errOut.String(), code
}

// ok runs line and fails the test unless it exits 0.
func (k *kafkaTool) ok(line, stdin string) string {
	k.t.Helper()
	out, errOut, code := k.run(line, stdin)
	if code != 0 {
		k.t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", line, code, out, errOut)
	}
	return out
}

// untilInterrupted starts line, waits until its stdout has want lines, then sends SIGINT (a
// user's Ctrl-C) and returns stdout and stderr once it has exited, failing on a non-zero exit.
func (k *kafkaTool) untilInterrupted(line string, want int) (string, string) {
	k.t.Helper()
	cmd := k.cmd(line)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		k.t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	lines := make(chan string)
	go func() { // ends when the process closes its stdout
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []string
	deadline := time.After(60 * time.Second)
	for len(got) < want {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				k.t.Fatalf("%s exited after %d of %d lines: %q\nstderr:\n%s", line, len(got), want, got, errOut.String())
			}
			got = append(got, l)
		case <-deadline:
			cmd.Process.Kill()
			cmd.Wait()
			k.t.Fatalf("%s: %d of %d lines within 60s: %q\nstderr:\n%s", line, len(got), want, got, errOut.String())
		}
	}
	// bash runs the launcher, which execs the binary: the process started is the consumer.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		k.t.Fatal(err)
	}
	for l := range lines {
		got = append(got, l)
	}
	if err := cmd.Wait(); err != nil {
		k.t.Fatalf("%s after SIGINT: %v\nstderr:\n%s", line, err, errOut.String())
	}
	return strings.Join(got, "\n") + "\n", errOut.String()
}

// TestKafkaQuickstart runs Apache Kafka's quickstart (https://kafka.apache.org/quickstart,
// ZooKeeper mode: steps 3 and 4 and 5) verbatim from the repository root through bin/*.sh,
// and checks that each prints what Kafka's tool prints.
func TestKafkaQuickstart(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1})
	k := newKafkaTool(t, c.Bootstrap())

	if out := k.ok("bin/kafka-topics.sh --create --topic quickstart-events --bootstrap-server localhost:9092", ""); out != "Created topic quickstart-events.\n" {
		t.Fatalf("create printed %q", out)
	}
	out := k.ok("bin/kafka-topics.sh --describe --topic quickstart-events --bootstrap-server localhost:9092", "")
	describe := regexp.MustCompile(`^Topic: quickstart-events\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \n` +
		`\tTopic: quickstart-events\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\n$`)
	if !describe.MatchString(out) {
		t.Fatalf("describe printed %q, want Kafka's format %s", out, describe)
	}
	// The console producer prompts ">" for each line it reads, and once more at the end.
	if out := k.ok("bin/kafka-console-producer.sh --topic quickstart-events --bootstrap-server localhost:9092",
		"This is my first event\nThis is my second event\n"); out != ">>>" {
		t.Fatalf("console producer printed %q, want its three prompts", out)
	}
	out, errOut := k.untilInterrupted("bin/kafka-console-consumer.sh --topic quickstart-events --from-beginning --bootstrap-server localhost:9092", 2)
	if out != "This is my first event\nThis is my second event\n" {
		t.Fatalf("console consumer printed %q", out)
	}
	if !strings.Contains(errOut, "Processed a total of 2 messages\n") {
		t.Fatalf("console consumer's stderr %q lacks Kafka's total line", errOut)
	}

	// Keys, as Kafka's documentation of the console tools writes them.
	k.ok("bin/kafka-console-producer.sh --bootstrap-server localhost:9092 --topic quickstart-events --property parse.key=true --property key.separator=:", "k1:v1\nk2:v2\n")
	out = k.ok("bin/kafka-console-consumer.sh --bootstrap-server localhost:9092 --topic quickstart-events --from-beginning --max-messages 4 --property print.key=true --property key.separator=:", "")
	if out != "null:This is my first event\nnull:This is my second event\nk1:v1\nk2:v2\n" {
		t.Fatalf("keyed consumer printed %q", out)
	}
	out = k.ok("bin/kafka-topics.sh --list --bootstrap-server localhost:9092", "")
	if !regexp.MustCompile(`(?m)^quickstart-events$`).MatchString(out) {
		t.Fatalf("list printed %q", out)
	}
	// A usage error says what is wrong and exits 2; --help exits 0.
	if _, errOut, code := k.run("bin/kafka-topics.sh --create --bootstrap-server localhost:9092", ""); code != 2 || !strings.Contains(errOut, "topic") {
		t.Fatalf("create without --topic: exit %d, stderr %q", code, errOut)
	}
}

// TestKafkaToolsAdmin: kafka-topics.sh --alter/--delete, kafka-configs.sh, kafka-consumer-groups.sh,
// kafka-dump-log.sh and zookeeper-shell.sh against a 3-broker cluster.
func TestKafkaToolsAdmin(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 3, Config: groupTestConfig})
	k := newKafkaTool(t, c.Bootstrap())
	k.ok("bin/kafka-topics.sh --bootstrap-server localhost:9092 --create --topic orders --partitions 3 --replication-factor 3 --config retention.ms=604800000", "")
	if out := k.ok("bin/kafka-topics.sh --bootstrap-server localhost:9092 --create --if-not-exists --topic orders", ""); out != "" {
		t.Fatalf("--if-not-exists on an existing topic printed %q", out)
	}
	if _, errOut, code := k.run("bin/kafka-topics.sh --bootstrap-server localhost:9092 --create --topic orders", ""); code != 1 || !strings.Contains(errOut, "Error while executing topic command") {
		t.Fatalf("creating an existing topic: exit %d, stderr %q", code, errOut)
	}
	k.ok("bin/kafka-topics.sh --bootstrap-server localhost:9092 --delete --if-exists --topic no-such-topic", "")
	k.ok("bin/kafka-topics.sh --bootstrap-server localhost:9092 --describe --if-exists --topic no-such-topic", "")
	out := k.ok("bin/kafka-topics.sh --bootstrap-server localhost:9092 --describe --topic orders", "")
	if !strings.Contains(out, "\tPartitionCount: 3\tReplicationFactor: 3\tConfigs: retention.ms=604800000\n") || strings.Count(out, "\tTopic: orders\tPartition: ") != 3 {
		t.Fatalf("describe printed %q", out)
	}
	k.ok("bin/kafka-configs.sh --bootstrap-server localhost:9092 --entity-type topics --entity-name orders --alter --add-config min.insync.replicas=2,cleanup.policy=[delete]", "")
	out = k.ok("bin/kafka-configs.sh --bootstrap-server localhost:9092 --entity-type topics --entity-name orders --describe", "")
	for _, want := range []string{"Dynamic configs for topic orders are:\n", "  min.insync.replicas=2 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:min.insync.replicas=2",
		"  retention.ms=604800000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=604800000"} {
		if !strings.Contains(out, want) {
			t.Fatalf("configs --describe printed %q, want %q", out, want)
		}
	}
	out = k.ok("bin/kafka-configs.sh --bootstrap-server localhost:9092 --alter --entity-type topics --entity-name orders --delete-config retention.ms", "")
	if out != "Completed updating config for topic orders.\n" {
		t.Fatalf("configs --alter printed %q", out)
	}
	k.ok("bin/kafka-topics.sh --bootstrap-server localhost:9092 --alter --topic orders --partitions 4", "")
	out = k.ok("bin/kafka-topics.sh --bootstrap-server localhost:9092 --describe --topic orders", "")
	if !strings.Contains(out, "PartitionCount: 4\tReplicationFactor: 3\tConfigs: cleanup.policy=delete,min.insync.replicas=2\n") {
		t.Fatalf("after --alter describe printed %q", out)
	}
	// --zookeeper finds the brokers where Kafka's old tools found them.
	out = k.ok("bin/kafka-topics.sh --zookeeper "+c.ZK.Connect(testcluster.Chroot)+" --list", "")
	if !strings.Contains(out, "orders\n") {
		t.Fatalf("--zookeeper --list printed %q", out)
	}
	out = k.ok("bin/zookeeper-shell.sh "+c.ZK.Connect(testcluster.Chroot)+" ls /brokers/ids", "")
	if !strings.HasSuffix(out, "\n[1, 2, 3]\n") || !strings.HasPrefix(out, "Connecting to ") {
		t.Fatalf("zookeeper-shell.sh printed %q", out)
	}

	k.ok("bin/kafka-console-producer.sh --bootstrap-server localhost:9092 --topic orders --property parse.key=true --property key.separator=:", "alice:1\nbob:2\ncarol:3\n")
	out = k.ok("bin/kafka-console-consumer.sh --bootstrap-server localhost:9092 --topic orders --group audit --from-beginning --max-messages 3", "")
	if strings.Count(out, "\n") != 3 {
		t.Fatalf("group consumer printed %q", out)
	}
	out = k.ok("bin/kafka-consumer-groups.sh --bootstrap-server localhost:9092 --describe --group audit", "")
	rows := describeRows(t, out)
	var committed int
	for _, r := range rows {
		n, _ := strconv.Atoi(r["CURRENT-OFFSET"])
		committed += n
	}
	// The member has left: the rows are the partitions it committed, 3 records in all.
	if len(rows) == 0 || committed != 3 {
		t.Fatalf("consumer-groups --describe: %d rows, %d committed:\n%s", len(rows), committed, out)
	}
	if out := k.ok("bin/kafka-consumer-groups.sh --bootstrap-server localhost:9092 --list", ""); !strings.Contains(out, "audit\n") {
		t.Fatalf("consumer-groups --list printed %q", out)
	}

	var seg string
	for id := int32(1); id <= 3 && seg == ""; id++ {
		for p := 0; p < 3; p++ {
			f := filepath.Join(c.Broker(id).DataDir, "orders-"+strconv.Itoa(p), "00000000000000000000.log")
			if st, err := os.Stat(f); err == nil && st.Size() > 0 {
				seg = f
				break
			}
		}
	}
	if seg == "" {
		t.Fatal("no non-empty segment of orders")
	}
	out = k.ok("bin/kafka-dump-log.sh --deep-iteration --print-data-log --files "+seg, "")
	if !regexp.MustCompile(`(?m)^\| offset: 0 CreateTime: \d+ keySize: \d+ valueSize: 1 .* key: (alice|bob|carol) payload: [123]$`).MatchString(out) {
		t.Fatalf("dump-log printed %q", out)
	}
	k.ok("bin/kafka-topics.sh --bootstrap-server localhost:9092 --delete --topic orders", "")
	deadline := time.Now().Add(30 * time.Second)
	for strings.Contains(k.ok("bin/kafka-topics.sh --bootstrap-server localhost:9092 --list", ""), "orders\n") {
		if time.Now().After(deadline) {
			t.Fatal("orders still listed 30s after --delete")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKafkaPerfTools: kafka-producer-perf-test.sh and kafka-consumer-perf-test.sh print Kafka's
// summary lines, so scripts that parse them work; the producer creates its missing topic and
// counts only acknowledged records.
func TestKafkaPerfTools(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1, Config: groupTestConfig})
	k := newKafkaTool(t, c.Bootstrap())
	out := k.ok("bin/kafka-producer-perf-test.sh --topic perf-new --num-records 20000 --record-size 100 --throughput -1 --producer-props bootstrap.servers=localhost:9092 acks=all linger.ms=5", "")
	final := regexp.MustCompile(`(?m)^(\d+) records sent, \d+\.\d{6} records/sec \(\d+\.\d{2} MB/sec\), \d+\.\d{2} ms avg latency, \d+\.\d{2} ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.$`)
	m := final.FindStringSubmatch(out)
	if m == nil || m[1] != "20000" {
		t.Fatalf("producer perf printed %q, want Kafka's summary of 20000 records", out)
	}
	// A throttled run long enough for one of Kafka's 5-second window lines.
	out = k.ok("bin/kafka-producer-perf-test.sh --topic perf-new --num-records 6000 --record-size 10 --throughput 1000 --producer-props bootstrap.servers=localhost:9092", "")
	window := regexp.MustCompile(`(?m)^\d+ records sent, \d+\.\d records/sec \(\d+\.\d{2} MB/sec\), \d+\.\d ms avg latency, \d+\.\d ms max latency\.$`)
	if !window.MatchString(out) || final.FindStringSubmatch(out)[1] != "6000" {
		t.Fatalf("throttled producer perf printed %q", out)
	}
	out = k.ok("bin/kafka-consumer-perf-test.sh --bootstrap-server localhost:9092 --topic perf-new --messages 26000", "")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || lines[0] != "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec" {
		t.Fatalf("consumer perf printed %q", out)
	}
	row := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, (\d+\.\d{4}), -?\d+\.\d{4}, (\d+), -?\d+\.\d{4}, -?\d+, -?\d+, -?\d+\.\d{4}, -?\d+\.\d{4}$`)
	m = row.FindStringSubmatch(lines[1])
	if m == nil || m[2] != "26000" || m[1] != "1.9646" { // 20000*100 + 6000*10 bytes in MiB
		t.Fatalf("consumer perf row %q, want Kafka's format with 26000 records of 1.9646 MB", lines[1])
	}
}

// TestGregorPerfProduceNewTopic: `gregor perf produce` on a missing topic creates it and
// succeeds; where the topic cannot be created it fails within seconds, saying why, and prints
// no rate.
func TestGregorPerfProduceNewTopic(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1})
	bin := testcluster.Binary(t)
	out, errOut := gregorCmd(t, "perf", "produce", "-b", c.Bootstrap(), "-t", "brand-new", "--records", "5000", "--size", "10")
	if !regexp.MustCompile(`^produce: 5000 records acknowledged, 0 failed, [\d.]+ MB in [\d.]+s: \d+ records/s, [\d.]+ MB/s\n$`).MatchString(out) {
		t.Fatalf("perf produce printed %q (stderr %q)", out, errOut)
	}
	start := time.Now()
	cmd := exec.Command(bin, "perf", "produce", "-b", c.Bootstrap(), "-t", "cannot-exist", "--records", "5000", "--replication-factor", "3")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	took := time.Since(start)
	if err == nil || took > 20*time.Second {
		t.Fatalf("perf produce with an impossible topic: err %v after %v\nstdout %q\nstderr %q", err, took, o.String(), e.String())
	}
	if strings.Contains(o.String(), "records/s") || !strings.Contains(e.String(), "cannot-exist") {
		t.Fatalf("failed perf produce printed %q, stderr %q: want no rate and the reason", o.String(), e.String())
	}
}

// TestConsumeExitAtEndEmptyPartition: `gregor consume -e` exits when every partition has been
// read to its end, an empty partition among them (it used to wait forever on it).
func TestConsumeExitAtEndEmptyPartition(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1})
	adm := newAdmin(t, c.Bootstrap())
	createTopic(t, adm, "sparse", 3, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, p := range []int32{0, 0, 2} {
		r := &kgo.Record{Topic: "sparse", Partition: p, Value: []byte("v" + strconv.Itoa(i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"-o", "beginning", "-e"}, 3},
		{[]string{"-o", "end", "-e"}, 0},
		{[]string{"-o", "beginning", "-e", "-p", "1"}, 0},
	} {
		start := time.Now()
		cmd := exec.CommandContext(ctx, testcluster.Binary(t), append([]string{"consume", "-b", c.Bootstrap(), "-t", "sparse"}, tc.args...)...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("consume %v: %v after %v (stdout %q)", tc.args, err, time.Since(start), out)
		}
		if n := strings.Count(string(out), "\n"); n != tc.want {
			t.Fatalf("consume %v printed %d records, want %d: %q", tc.args, n, tc.want, out)
		}
	}
}

// TestKafkaLaunchersHelp: every bin/*.sh launcher runs its command of the binary and answers
// --help with exit 0; without GREGOR_BIN a launcher builds the binary from the tree itself.
func TestKafkaLaunchersHelp(t *testing.T) {
	scripts, err := filepath.Glob(filepath.Join(testcluster.RepoRoot(), "bin", "*.sh"))
	if err != nil || len(scripts) < 14 {
		t.Fatalf("launchers: %v %v", scripts, err)
	}
	k := newKafkaTool(t, "")
	for _, s := range scripts {
		name := filepath.Base(s)
		if name == "gregor-run.sh" {
			continue
		}
		out, errOut, code := k.run("bin/"+name+" --help", "")
		if code != 0 || !strings.Contains(strings.ToLower(out), "usage") || !strings.Contains(out, strings.TrimSuffix(name, ".sh")) {
			t.Errorf("%s --help: exit %d\nstdout %q\nstderr %q", name, code, out, errOut)
		}
	}
	build := &kafkaTool{t: t, env: append(os.Environ(), "GREGOR_BIN=", "GREGOR_TOOLS_CACHE="+t.TempDir())}
	if out, errOut, code := build.run("bin/kafka-topics.sh --help", ""); code != 0 || !strings.Contains(out, "--bootstrap-server") {
		t.Fatalf("kafka-topics.sh --help building its binary: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

// TestKafkaServerStartStop: kafka-server-start.sh -daemon runs a broker from a Kafka
// server.properties (with --override), and kafka-server-stop.sh --config stops exactly that
// broker with a clean shutdown.
func TestKafkaServerStartStop(t *testing.T) {
	zks := zktest.Start(t)
	dir := t.TempDir()
	port := testcluster.FreePort(t)
	props := filepath.Join(dir, "server.properties")
	// Kafka's shipped file with this test's ports and directories.
	data, err := os.ReadFile(filepath.Join(testcluster.RepoRoot(), "config", "server.properties"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("localhost:9092", "127.0.0.1:"+strconv.Itoa(port), "/tmp/kafka-logs", filepath.Join(dir, "data"),
		"zookeeper.connect=localhost:2181", "zookeeper.connect="+zks.Addr()).Replace(string(data))
	if err := os.WriteFile(props, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	k := newKafkaTool(t, "127.0.0.1:"+strconv.Itoa(port))
	k.env = append(k.env, "LOG_DIR="+dir)
	stop := "bin/kafka-server-stop.sh --config " + props
	t.Cleanup(func() { k.run(stop, "") })
	k.ok("bin/kafka-server-start.sh -daemon "+props+" --override broker.id=7 --override gregor.metrics.listen=127.0.0.1:"+strconv.Itoa(testcluster.FreePort(t)), "")

	conn, _, err := zk.Connect([]string{zks.Addr()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitZnode := func(present bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			ok, _, err := conn.Exists("/brokers/ids/7")
			if err == nil && ok == present {
				return
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(dir, "kafkaServer.out"))
				t.Fatalf("/brokers/ids/7 present=%v not reached within 60s (err %v)\nkafkaServer.out:\n%s", present, err, log)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitZnode(true)
	if out := k.ok("bin/kafka-topics.sh --bootstrap-server localhost:9092 --create --topic started", ""); out != "Created topic started.\n" {
		t.Fatalf("create on the started broker printed %q", out)
	}
	k.ok(stop, "")
	waitZnode(false)
	deadline := time.Now().Add(60 * time.Second)
	for {
		log, _ := os.ReadFile(filepath.Join(dir, "kafkaServer.out"))
		if strings.Contains(string(log), "shut down cleanly") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no clean shutdown within 60s of kafka-server-stop.sh:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Nothing is left to stop: Kafka's message, and a failure status.
	if out, _, code := k.run(stop, ""); code == 0 || out != "No kafka server to stop\n" {
		t.Fatalf("second stop: exit %d, %q", code, out)
	}
}

// TestKafkaReassignWaitAndElection: kafka-reassign-partitions.sh --execute --wait reports its
// progress on stderr and returns once the move is done (--verify agrees), and
// kafka-leader-election.sh runs a preferred election on the result.
func TestKafkaReassignWaitAndElection(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 3})
	k := newKafkaTool(t, c.Bootstrap())
	k.ok("bin/kafka-topics.sh --bootstrap-server localhost:9092 --create --topic moving --replica-assignment 1:2", "")
	k.ok("bin/kafka-console-producer.sh --bootstrap-server localhost:9092 --topic moving", strings.Repeat("record\n", 500))
	plan := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(plan, []byte(`{"version":1,"partitions":[{"topic":"moving","partition":0,"replicas":[3,2]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := k.run("bin/kafka-reassign-partitions.sh --bootstrap-server localhost:9092 --reassignment-json-file "+plan+" --execute --wait", "")
	if code != 0 || !strings.Contains(out, "Successfully started partition reassignments for moving-0") || !strings.Contains(errOut, "reassign: 1 of 1 partitions moved after ") {
		t.Fatalf("reassign --execute --wait: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	out = k.ok("bin/kafka-reassign-partitions.sh --bootstrap-server localhost:9092 --reassignment-json-file "+plan+" --verify", "")
	if !strings.Contains(out, "Reassignment of partition moving-0 is complete.") {
		t.Fatalf("--verify right after --wait printed %q", out)
	}
	out = k.ok("bin/kafka-topics.sh --bootstrap-server localhost:9092 --describe --topic moving", "")
	if !strings.Contains(out, "\tReplicas: 3,2\t") {
		t.Fatalf("after the move describe printed %q", out)
	}
	out = k.ok("bin/kafka-leader-election.sh --bootstrap-server localhost:9092 --election-type PREFERRED --topic moving --partition 0", "")
	if out != "Successfully completed leader election (PREFERRED) for partitions moving-0\n" && out != "Valid replica already elected for partitions moving-0\n" {
		t.Fatalf("leader election printed %q", out)
	}
	if out := k.ok("bin/kafka-console-consumer.sh --bootstrap-server localhost:9092 --topic moving --from-beginning --max-messages 500", ""); strings.Count(out, "record\n") != 500 {
		t.Fatalf("after the move the topic holds %d records, want 500", strings.Count(out, "record\n"))
	}
}
