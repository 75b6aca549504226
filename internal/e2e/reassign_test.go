package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/gregor-broker/gregor/internal/checker"
	"github.com/gregor-broker/gregor/internal/testcluster"
)

// gregorStatus runs the gregor binary and returns stdout and whether it exited 0.
func gregorStatus(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(testcluster.Binary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("gregor %s: %v", strings.Join(args, " "), err)
	}
	return out.String() + errOut.String(), err == nil
}

type topicZnode struct {
	Partitions map[string][]int32 `json:"partitions"`
	Adding     map[string][]int32 `json:"adding_replicas"`
	Removing   map[string][]int32 `json:"removing_replicas"`
}

func readTopicZnode(t *testing.T, conn *zk.Conn, topic string) topicZnode {
	t.Helper()
	data, _, err := conn.Get(testcluster.Chroot + "/brokers/topics/" + topic)
	if err != nil {
		t.Fatal(err)
	}
	var z topicZnode
	if err := json.Unmarshal(data, &z); err != nil {
		t.Fatal(err)
	}
	return z
}

func writePlan(t *testing.T, moves map[int][]int, topic string) string {
	t.Helper()
	var parts []string
	for p := 0; p < len(moves); p++ {
		b, _ := json.Marshal(moves[p])
		parts = append(parts, fmt.Sprintf(`{"topic":%q,"partition":%d,"replicas":%s}`, topic, p, b))
	}
	path := filepath.Join(t.TempDir(), topic+".json")
	if err := os.WriteFile(path, []byte(`{"version":1,"partitions":[`+strings.Join(parts, ",")+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReassignUnderLoad: under an idempotent acks=all producer, a topic goes from replication
// factor 1 to 3 and another moves every replica off one broker, through `gregor reassign`
// (kafka-reassign-partitions' JSON and output) on AlterPartitionReassignments. While a new
// replica cannot catch up (its broker SIGSTOPped), the topic znode shows adding_replicas,
// ListPartitionReassignments and `--verify` report the move in progress; afterwards they report
// it complete, the znode has no adding/removing replicas, the moved-off broker deleted its copies,
// and the shared checker finds every acknowledged record once.
//
// The paused broker is never the controller: AlterPartitionReassignments is the controller's, so
// pausing it would only test a stalled controller (CI once paused the controller, whose session
// then expired and whose successor rightly refused a target broker that was no longer alive).
func TestReassignUnderLoad(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 3, Config: map[string]string{
		"zookeeper.session.timeout.ms": "30000", // the pause below must not look like a death
		"replica.lag.time.max.ms":      "10000",
	}})
	adm := newAdmin(t, c.Bootstrap())
	conn := c.ZKConn()
	bs := c.Bootstrap()
	// s is paused and later left; a and b keep everything.
	s, others := pauseCandidate(t, conn, 3, 2)
	a, b := others[0], others[1]
	t.Logf("broker %d (not the controller) is paused and then left", s)
	gregorCmd(t, "topics", "create", "--bootstrap-server", bs, "--topic", "grow", "--replica-assignment", fmt.Sprintf("%d,%d,%d", a, a, a))
	gregorCmd(t, "topics", "create", "--bootstrap-server", bs, "--topic", "leave", "--replica-assignment", fmt.Sprintf("%d:%d,%d:%d,%d:%d", a, s, b, s, s, a))
	waitConverged(t, conn, "grow", 3, 1, 60*time.Second)
	waitConverged(t, conn, "leave", 3, 2, 60*time.Second)
	waitMetadata(t, c, []int32{1, 2, 3}, "grow", 3, 1)
	waitMetadata(t, c, []int32{1, 2, 3}, "leave", 3, 2)
	hGrow, hLeave := checker.New(checker.Options{Idempotent: true}), checker.New(checker.Options{Idempotent: true})
	pGrow := startChaosProducer(t, bs, "grow", hGrow)
	pLeave := startChaosProducer(t, bs, "leave", hLeave)

	// RF 1 -> 3, with broker s unable to catch up for a while.
	c.Pause(s)
	paused := true
	defer func() {
		if paused {
			c.Resume(s)
		}
	}()
	abs := []int{int(a), int(b), int(s)}
	plan := writePlan(t, map[int][]int{0: abs, 1: abs, 2: abs}, "grow")
	out, _ := gregorCmd(t, "reassign", "--bootstrap-server", c.Addr(a), "--execute", "--reassignment-json-file", plan)
	if !strings.Contains(out, "Successfully started partition reassignments for grow-0,grow-1,grow-2") {
		t.Fatalf("--execute printed:\n%s", out)
	}
	z := readTopicZnode(t, conn, "grow")
	if len(z.Adding["0"]) == 0 || !containsID(z.Adding["0"], s) || len(z.Partitions["0"]) != 3 {
		t.Fatalf("topic znode during the move: %+v", z)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	asked := kadm.TopicsSet{}
	asked.Add("grow", 0, 1, 2)
	asked.Add("leave", 0, 1, 2)
	listed, err := adm.ListPartitionReassignments(ctx, asked) // kadm sends nothing for an empty set
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := listed["grow"][0]; !ok {
		t.Fatalf("ListPartitionReassignments during the move: %+v", listed)
	}
	if out, ok := gregorStatus(t, "reassign", "--bootstrap-server", c.Addr(a), "--verify", "--reassignment-json-file", plan); ok ||
		!strings.Contains(out, "Reassignment of partition grow-0 is still in progress.") {
		t.Fatalf("--verify during the move (exit ok %v):\n%s", ok, out)
	}
	c.Resume(s)
	paused = false
	waitVerified(t, c.Addr(a), plan, "grow")
	z = readTopicZnode(t, conn, "grow")
	if len(z.Adding) != 0 || len(z.Removing) != 0 || len(z.Partitions["2"]) != 3 {
		t.Fatalf("topic znode after the move: %+v", z)
	}
	waitConverged(t, conn, "grow", 3, 3, 60*time.Second)

	// Every replica off broker s.
	plan = writePlan(t, map[int][]int{0: {int(a), int(b)}, 1: {int(b), int(a)}, 2: {int(a), int(b)}}, "leave")
	gregorCmd(t, "reassign", "--bootstrap-server", c.Addr(b), "--execute", "--reassignment-json-file", plan)
	waitVerified(t, c.Addr(b), plan, "leave")
	z = readTopicZnode(t, conn, "leave")
	for p, reps := range z.Partitions {
		if containsID(reps, s) || len(z.Adding) != 0 || len(z.Removing) != 0 {
			t.Fatalf("leave-%s still on broker %d after the move: %+v", p, s, z)
		}
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		left, _ := filepath.Glob(filepath.Join(c.Broker(s).DataDir, "leave-*"))
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker %d kept %v after its replicas moved away", s, left)
		}
		time.Sleep(100 * time.Millisecond) // polling directories the broker deletes
	}
	if listed, err = adm.ListPartitionReassignments(ctx, asked); err != nil || len(listed["grow"])+len(listed["leave"]) != 0 {
		t.Fatalf("ListPartitionReassignments after: %+v %v", listed, err)
	}

	pGrow.pause(t)
	pLeave.pause(t)
	nGrow := checkTopic(t, c, adm, "grow", 3, hGrow)
	nLeave := checkTopicOn(t, c, adm, "leave", 3, hLeave, []int32{a, b})
	t.Logf("moves complete under load: %d + %d records acknowledged and read back once", nGrow, nLeave)
}

// waitVerified runs `gregor reassign --verify` until every partition of the plan is complete.
func waitVerified(t *testing.T, addr, plan, topic string) {
	t.Helper()
	var out string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); {
		var ok bool
		if out, ok = gregorStatus(t, "reassign", "--bootstrap-server", addr, "--verify", "--reassignment-json-file", plan); ok {
			if !strings.Contains(out, "Reassignment of partition "+topic+"-0 is complete.") {
				t.Fatalf("--verify succeeded but printed:\n%s", out)
			}
			return
		}
		time.Sleep(200 * time.Millisecond) // polling the controller's view, with a deadline
	}
	t.Fatalf("reassignment of %s not complete within 90s; --verify:\n%s", topic, out)
}
