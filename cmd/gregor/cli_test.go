package main

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// capture runs the command line in-process and returns its exit status and what it printed.
func capture(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	outF, _ := os.Create(dir + "/out")
	errF, _ := os.Create(dir + "/err")
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = outF, errF
	defer func() { os.Stdout, os.Stderr = oldOut, oldErr }()
	code = run(args)
	outF.Close()
	errF.Close()
	o, _ := os.ReadFile(dir + "/out")
	e, _ := os.ReadFile(dir + "/err")
	return code, string(o), string(e)
}

// withActions are the commands whose first argument is an action, each with its own flags.
var withActions = map[string]map[string]action{"topics": topicActions, "perf": perfActions, "groups": groupActions}

// TestHelpEveryCommand: every command and every action answers -h and --help with its usage on
// stdout and exit 0, and touches no broker doing so.
func TestHelpEveryCommand(t *testing.T) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 20 {
		t.Fatalf("only %d commands registered: %v", len(names), names)
	}
	var lines [][]string
	for _, n := range names {
		lines = append(lines, []string{n})
		acts := make([]string, 0)
		for a := range withActions[n] {
			acts = append(acts, a)
		}
		sort.Strings(acts)
		for _, a := range acts {
			lines = append(lines, []string{n, a})
		}
	}
	for _, line := range lines {
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string{}, line...), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				code, out, errOut := capture(t, args...)
				if code != 0 || !strings.Contains(strings.ToLower(out), "usage") {
					t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
				}
			})
		}
	}
	for _, sub := range []string{"ls", "get", "wait"} {
		if code, out, _ := capture(t, "zk", sub, "--help"); code != 0 || !strings.Contains(out, "usage: gregor zk") {
			t.Fatalf("gregor zk %s --help: exit %d, %q", sub, code, out)
		}
	}
	for _, h := range []string{"-h", "--help", "help"} {
		if code, out, _ := capture(t, h); code != 0 || !strings.Contains(out, "kafka-topics.sh") {
			t.Fatalf("gregor %s: exit %d, %q", h, code, out)
		}
	}
}

// TestUsageErrors: a wrong command line exits 2 and says what is wrong, without a broker.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage: gregor <command>"},
		{[]string{"no-such-command"}, `unknown command "no-such-command"`},
		{[]string{"topics"}, "an action is required"},
		{[]string{"topics", "bogus"}, `unknown action "bogus"`},
		{[]string{"topics", "create"}, "--topic is required"},
		{[]string{"topics", "create", "--nope"}, "flag provided but not defined: -nope"},
		{[]string{"topics", "create", "-t", "x", "--config", "novalue"}, `"novalue" is not k=v`},
		{[]string{"produce"}, "-t/--topic is required"},
		{[]string{"consume", "-t", "x", "--group", "g", "-e"}, "-e and -p do not apply"},
		{[]string{"perf", "produce", "--records", "many"}, "invalid value"},
		{[]string{"perf"}, "an action is required"},
		{[]string{"groups", "describe"}, "--group or --all-groups is required"},
		{[]string{"dump-log"}, "--files is required"},
		{[]string{"broker"}, "--config is required"},
		{[]string{"zk", "ls"}, "want a command and a path"},
		{[]string{"zk", "rm", "/x"}, `unknown zk command "rm"`},
		{[]string{"reassign"}, "one of --generate"},
		{[]string{"elect-leaders"}, "--election-type"},
		{[]string{"healthcheck"}, "--config or --bootstrap-server"},
		{[]string{"kafka-topics.sh", "--bootstrap-server", "x:1"}, "exactly one action"},
		{[]string{"kafka-topics.sh", "--list"}, "bootstrap-server"},
		{[]string{"kafka-topics.sh", "--create", "--bootstrap-server", "x:1"}, "topic"},
		{[]string{"kafka-console-producer.sh", "--bootstrap-server", "x:1"}, "topic"},
		{[]string{"kafka-console-consumer.sh", "--bootstrap-server", "x:1"}, "topic is required"},
		{[]string{"kafka-console-consumer.sh", "--bootstrap-server", "x:1", "--topic", "t", "--offset", "5"}, "partition is required"},
		{[]string{"kafka-consumer-groups.sh", "--list"}, "bootstrap-server"},
		{[]string{"kafka-configs.sh", "--describe", "--bootstrap-server", "x:1"}, "--entity-type"},
		{[]string{"kafka-producer-perf-test.sh", "--topic", "t", "--num-records", "5", "--record-size", "1"}, "throughput"},
		{[]string{"kafka-producer-perf-test.sh", "--topic", "t", "--num-records", "5", "--record-size", "1", "--throughput", "-1"}, "bootstrap.servers"},
		{[]string{"kafka-consumer-perf-test.sh", "--bootstrap-server", "x:1", "--topic", "t"}, "messages"},
		{[]string{"kafka-server-start.sh"}, "USAGE: kafka-server-start.sh"},
		{[]string{"kafka-server-stop.sh", "extra"}, "unexpected argument"},
		{[]string{"zookeeper-shell.sh"}, "USAGE: zookeeper-shell.sh"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := capture(t, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, errOut, tc.want)
			}
		})
	}
}

func TestExpandMulti(t *testing.T) {
	got := expandMulti([]string{"--topic", "t", "--producer-props", "acks=1", "bootstrap.servers=h:1", "--throughput", "-1"}, "producer-props")
	want := []string{"--topic", "t", "--producer-props=acks=1", "--producer-props=bootstrap.servers=h:1", "--throughput", "-1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q", got)
	}
}

func TestParseAddConfig(t *testing.T) {
	got, err := parseAddConfig("min.insync.replicas=2, cleanup.policy=[compact,delete],retention.ms=1")
	if err != nil {
		t.Fatal(err)
	}
	var kv []string
	for _, a := range got {
		kv = append(kv, a.Name+"="+*a.Value)
	}
	if want := []string{"min.insync.replicas=2", "cleanup.policy=compact,delete", "retention.ms=1"}; !reflect.DeepEqual(kv, want) {
		t.Fatalf("%q", kv)
	}
	for _, bad := range []string{"novalue", "k=[a,b", "=v"} {
		if _, err := parseAddConfig(bad); err == nil {
			t.Fatalf("accepted %q", bad)
		}
	}
}

func TestReadProperties(t *testing.T) {
	f := t.TempDir() + "/p.properties"
	os.WriteFile(f, []byte("# comment\n! also\nbroker.id=0\nlisteners = PLAINTEXT://:9092\nlog.dirs=/a,\\\n  /b\nk:v\n\n"), 0o644)
	got, err := readProperties(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"broker.id": "0", "listeners": "PLAINTEXT://:9092", "log.dirs": "/a,/b", "k": "v"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%v", got)
	}
}

func TestConsoleFormatter(t *testing.T) {
	r := &kgo.Record{Key: []byte("k"), Value: []byte("v"), Partition: 2, Offset: 7, Timestamp: time.UnixMilli(1700000000123),
		Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}}
	for _, tc := range []struct {
		props map[string]string
		want  string
	}{
		{nil, "v\n"},
		{map[string]string{"print.key": "true"}, "k\tv\n"},
		{map[string]string{"print.key": "true", "key.separator": ":"}, "k:v\n"},
		{map[string]string{"print.timestamp": "true", "print.partition": "true", "print.offset": "true", "print.headers": "true", "print.key": "true"},
			"CreateTime:1700000000123\tPartition:2\tOffset:7\th:x\tk\tv\n"},
		{map[string]string{"print.value": "false", "print.key": "true", "line.separator": ";"}, "k\t;"},
	} {
		if got := consoleFormatter(tc.props)(r); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.props, got, tc.want)
		}
	}
	if got := consoleFormatter(map[string]string{"print.key": "true"})(&kgo.Record{Value: []byte("v")}); got != "null\tv\n" {
		t.Errorf("null key: %q", got)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 1000; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(d, 0.5); p != 501*time.Millisecond {
		t.Fatal(p)
	}
	if p := percentile(d, 0.999); p != 1000*time.Millisecond {
		t.Fatal(p)
	}
	if p := percentile(nil, 0.5); p != 0 {
		t.Fatal(p)
	}
}

// FuzzParseProperties: any file text parses without panicking, and a key=value line written
// back reads as what it says.
func FuzzParseProperties(f *testing.F) {
	f.Add("broker.id=0\nlisteners = PLAINTEXT://:9092\n# c\nlog.dirs=/a,\\\n /b\n")
	f.Add("\\")
	f.Add("k:v\r\n!x\n=\n")
	f.Fuzz(func(t *testing.T, data string) {
		parseProperties(data)
		if !strings.ContainsAny(data, "=:\n\r\\#!") && strings.TrimSpace(data) == data && data != "" {
			if got := parseProperties("k=" + data); got["k"] != data {
				t.Fatalf("k=%q read as %q", data, got["k"])
			}
		}
	})
}
