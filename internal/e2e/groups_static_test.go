package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// TestStaticMemberRestartWithoutRebalance: three franz-go members with group.instance.id;
// one is SIGKILLed and restarted within its session timeout. It gets its partitions back in
// the same generation, and the other two see no rebalance (no new assignment).
func TestStaticMemberRestartWithoutRebalance(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1, Config: groupTestConfig})
	adm := newAdmin(t, c.Bootstrap())
	const topic, group = "static-topic", "static-group"
	createTopic(t, adm, topic, 6, nil)
	g := newGroupRun(t, c.Bootstrap(), adm, topic, group)
	for _, m := range []string{"A", "B", "C"} {
		g.start(m, "franz-range", "instance-"+m, 20000)
	}
	before := g.waitMembers(3, 60*time.Second)
	last := func(m string) string {
		l := g.assigned[m]
		if len(l) == 0 {
			return ""
		}
		return l[len(l)-1]
	}
	// Every member has reported the assignment of the final generation.
	var gen string
	g.waitFor("the three members' assignments of one generation", 30*time.Second, func() bool {
		a, b, cc := last("A"), last("B"), last("C")
		if a == "" || b == "" || cc == "" {
			return false
		}
		gen = strings.Fields(a)[0]
		return strings.Fields(b)[0] == gen && strings.Fields(cc)[0] == gen
	})
	g.mu.Lock()
	countB, countC, lastA := len(g.assigned["B"]), len(g.assigned["C"]), last("A")
	g.mu.Unlock()

	g.kill("A")
	g.start("A", "franz-range", "instance-A", 20000)
	g.waitFor("A's new assignment", 30*time.Second, func() bool { return len(g.assigned["A"]) >= 2 })
	produceN(t, c.Bootstrap(), topic, "s", 600)
	g.waitAllRead("s", 600, 60*time.Second)
	after := g.waitMembers(3, 30*time.Second)

	g.mu.Lock()
	defer g.mu.Unlock()
	if got := last("A"); got != lastA {
		t.Fatalf("restarted static member's assignment %q, before the restart %q", got, lastA)
	}
	if len(g.assigned["B"]) != countB || len(g.assigned["C"]) != countC {
		t.Fatalf("the other members were rebalanced: B %v, C %v", g.assigned["B"], g.assigned["C"])
	}
	for m, ps := range before {
		if len(after[m]) != len(ps) {
			t.Fatalf("member %s: partitions %v before, %v after", m, ps, after[m])
		}
	}
	for _, r := range g.reads {
		if !strings.HasPrefix(r.value, "s-") {
			t.Fatalf("unexpected record %q", r.value)
		}
	}
	t.Logf("generation %s kept across the restart; A's assignment %s", gen, lastA)
}
