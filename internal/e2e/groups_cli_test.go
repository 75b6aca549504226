package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// gregorCmd runs the gregor binary and returns its stdout and stderr.
func gregorCmd(t *testing.T, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(testcluster.Binary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("gregor %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// describeRows parses `gregor groups describe` (kafka-consumer-groups.sh's table) into rows of
// column name → value.
func describeRows(t *testing.T, out string) []map[string]string {
	t.Helper()
	var header []string
	var rows []map[string]string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "GROUP" {
			header = f
			continue
		}
		if len(f) != len(header) {
			t.Fatalf("row %q does not match header %v", line, header)
		}
		row := map[string]string{}
		for i, h := range header {
			row[h] = f[i]
		}
		rows = append(rows, row)
	}
	return rows
}

// TestGroupsCommandLine: `gregor consume --group` commits what it prints; `gregor groups
// describe` shows, per partition, the committed offset, the log end and their difference as
// LAG, matching what kadm reads; list, --state, reset-offsets (dry run, --execute, --shift-by),
// delete-offsets and delete do what kafka-consumer-groups.sh does.
func TestGroupsCommandLine(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1, Config: groupTestConfig})
	adm := newAdmin(t, c.Bootstrap())
	const topic, group = "cli-orders", "cli-group"
	createTopic(t, adm, topic, 3, nil)
	produceN(t, c.Bootstrap(), topic, "o", 300)
	bs := c.Bootstrap()

	out, _ := gregorCmd(t, "consume", "-b", bs, "-t", topic, "--group", group, "-o", "beginning", "-c", "120")
	if n := strings.Count(out, "\n"); n != 120 {
		t.Fatalf("consume printed %d records, want 120", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}

	out, errOut := gregorCmd(t, "groups", "describe", "--bootstrap-server", bs, "--group", group)
	if !strings.Contains(errOut, "Consumer group 'cli-group' has no active members.") {
		t.Fatalf("describe stderr: %q", errOut)
	}
	rows := describeRows(t, out)
	if len(rows) == 0 {
		t.Fatalf("describe printed no rows:\n%s", out)
	}
	var sum int64
	for _, r := range rows {
		p, _ := strconv.Atoi(r["PARTITION"])
		cur, _ := strconv.ParseInt(r["CURRENT-OFFSET"], 10, 64)
		end, _ := strconv.ParseInt(r["LOG-END-OFFSET"], 10, 64)
		lag, _ := strconv.ParseInt(r["LAG"], 10, 64)
		o, _ := committed.Lookup(topic, int32(p))
		e, _ := ends.Lookup(topic, int32(p))
		if r["GROUP"] != group || r["TOPIC"] != topic || cur != o.At || end != e.Offset || lag != end-cur || r["CONSUMER-ID"] != "-" {
			t.Fatalf("row %v: committed %d, log end %d", r, o.At, e.Offset)
		}
		sum += cur
	}
	if sum != 120 {
		t.Fatalf("committed offsets add up to %d, want the 120 records printed", sum)
	}

	if out, _ := gregorCmd(t, "groups", "list", "--bootstrap-server", bs); !strings.Contains(out, group+"\n") {
		t.Fatalf("list: %q", out)
	}
	if out, _ := gregorCmd(t, "groups", "list", "--bootstrap-server", bs, "--state"); !strings.Contains(out, "GROUP") || !regexpLine(out, group, "Empty") {
		t.Fatalf("list --state: %q", out)
	}

	// A dry run changes nothing; --execute does.
	out, _ = gregorCmd(t, "groups", "reset-offsets", "--bootstrap-server", bs, "--group", group, "--topic", topic, "--to-earliest", "--dry-run")
	if strings.Count(out, group) != 3 || !regexpLine(out, group, topic, "0", "0") {
		t.Fatalf("dry run: %q", out)
	}
	if now, _ := adm.FetchOffsets(ctx, group); offsetsSum(now, topic) != 120 {
		t.Fatalf("a dry run changed the offsets")
	}
	// --topic names every partition of the topic; --all-topics only those the group has
	// committed, and 120 records read from 3 partitions need not have touched all three (Kafka's
	// shift below then refuses a partition with no commit, as it did in CI).
	gregorCmd(t, "groups", "reset-offsets", "--bootstrap-server", bs, "--group", group, "--topic", topic, "--to-earliest", "--execute")
	if now, _ := adm.FetchOffsets(ctx, group); offsetsSum(now, topic) != 0 {
		t.Fatalf("reset to earliest: %v", now)
	}
	gregorCmd(t, "groups", "reset-offsets", "--bootstrap-server", bs, "--group", group, "--topic", topic, "--shift-by", "5", "--execute")
	if now, _ := adm.FetchOffsets(ctx, group); offsetsSum(now, topic) != 15 {
		t.Fatalf("shift by 5: %v", now)
	}
	gregorCmd(t, "groups", "reset-offsets", "--bootstrap-server", bs, "--group", group, "--topic", topic+":1", "--to-offset", "1000000", "--execute")
	if now, _ := adm.FetchOffsets(ctx, group); offsetsSum(now, topic) != 10+100 {
		t.Fatalf("to-offset beyond the end is clamped to the end: %v", now)
	}

	out, _ = gregorCmd(t, "groups", "delete-offsets", "--bootstrap-server", bs, "--group", group, "--topic", topic+":0")
	if !strings.Contains(out, "Request succeed for deleting offsets with topic "+topic+":0 group "+group) || !regexpLine(out, topic, "0", "Successful") {
		t.Fatalf("delete-offsets: %q", out)
	}
	if now, _ := adm.FetchOffsets(ctx, group); func() bool { _, ok := now.Lookup(topic, 0); return ok }() {
		t.Fatalf("offset of partition 0 still there: %v", now)
	}
	out, _ = gregorCmd(t, "groups", "delete", "--bootstrap-server", bs, "--group", group)
	if strings.TrimSpace(out) != "Deletion of requested consumer groups ('"+group+"') was successful." {
		t.Fatalf("delete: %q", out)
	}
	out, _ = gregorCmd(t, "groups", "describe", "--bootstrap-server", bs, "--group", group)
	if !strings.Contains(out, "Error: Consumer group '"+group+"' does not exist.") {
		t.Fatalf("describe after delete: %q", out)
	}
}

// regexpLine reports whether some line of out has exactly these leading fields.
func regexpLine(out string, fields ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(fields) && strings.Join(f[:len(fields)], " ") == strings.Join(fields, " ") {
			return true
		}
	}
	return false
}

func offsetsSum(rs kadm.OffsetResponses, topic string) int64 {
	var sum int64
	rs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			sum += o.At
		}
	})
	return sum
}
