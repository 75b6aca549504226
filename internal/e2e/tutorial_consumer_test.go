package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestTutorialConsumerCommitsAndResumes: the tutorial's producer and consumer programs
// (clients/examples) as a reader runs them. The consumer joins a group and commits what it
// processed; run again after more orders, it prints only the new ones.
func TestTutorialConsumerCommitsAndResumes(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1, Config: groupTestConfig})
	adm := newAdmin(t, c.Bootstrap())
	createTopic(t, adm, "orders", 3, nil)
	dir := t.TempDir()
	for _, prog := range []string{"producer", "consumer"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, prog), "./clients/examples/"+prog)
		cmd.Dir = testcluster.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", prog, err, out)
		}
	}
	run := func(prog string, args ...string) string {
		t.Helper()
		start := time.Now()
		out, err := exec.Command(filepath.Join(dir, prog), append([]string{"-brokers", c.Bootstrap()}, args...)...).Output()
		t.Logf("%s %v took %v", prog, args, time.Since(start))
		if err != nil {
			t.Fatalf("%s %v: %v", prog, args, err)
		}
		return string(out)
	}
	run("producer", "-n", "20")
	first := run("consumer", "-group", "tutorial", "-max", "20", "-idle", "60s")
	if n := strings.Count(first, "\n"); n != 20 || !strings.Contains(first, "order o-19 created") {
		t.Fatalf("first run printed %d orders:\n%s", n, first)
	}
	run("producer", "-n", "5") // o-0..o-4 again, as new records
	second := run("consumer", "-group", "tutorial", "-max", "5", "-idle", "60s")
	if n := strings.Count(second, "\n"); n != 5 || strings.Contains(second, "order o-19 ") || strings.Contains(second, "order o-5 ") {
		t.Fatalf("second run should print only the 5 new orders, printed %d:\n%s", n, second)
	}
	// Everything is committed: nothing is left for a third run.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	committed, err := adm.FetchOffsets(ctx, "tutorial")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(e kadm.ListedOffset) {
		if o, _ := committed.Lookup("orders", e.Partition); o.At != e.Offset {
			t.Errorf("partition %d: committed %d, log end %d", e.Partition, o.At, e.Offset)
		}
	})
}
