package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// readEvent is one record returned to a member.
type commitEvent struct {
	member string
	p      int32
	off    int64
	at     int  // len(reads) when it was reported
	acked  bool // false: CommitMessages failed, and the commit may or may not have been stored
}

// subscribeEvent is a kafka-go member's start of a generation: the offset each assigned
// partition's reader starts at, as the coordinator's OffsetFetch answered.
type subscribeEvent struct {
	member  string
	at      int // len(reads) when it was reported
	seq     int // events reported before it (faultMark.events orders it against faults)
	offsets map[int32]int64
}

type readEvent struct {
	member string
	p      int32
	off    int64
	value  string
}

// groupRun drives member processes of one group and records what they report. Its state is
// guarded by mu; changed is closed and replaced on every event so waits need no polling of the
// processes.
type groupRun struct {
	t         *testing.T
	bootstrap string
	adm       *kadm.Client
	topic     string
	group     string

	mu      sync.Mutex
	changed chan struct{}
	reads   []readEvent
	commits map[string]map[int32]int64 // member → partition → highest acknowledged commit
	// commitLog is every commit a member reported, acknowledged or failed, in the order
	// reported, with how many reads had been recorded then: a member's late commit can move a
	// partition's offset back.
	commitLog []commitEvent
	assigned  map[string][]string // member → "assigned" lines
	// subscriptions are the kafka-go members' generation starts, in the order reported.
	subscriptions []subscribeEvent
	events        int // lines reported by all members so far
	procs         map[string]*memberProc
}

type memberProc struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited and its output is drained
	stderr *bytes.Buffer
}

func newGroupRun(t *testing.T, bootstrap string, adm *kadm.Client, topic, group string) *groupRun {
	g := &groupRun{t: t, bootstrap: bootstrap, adm: adm, topic: topic, group: group, changed: make(chan struct{}),
		commits: map[string]map[int32]int64{}, assigned: map[string][]string{}, procs: map[string]*memberProc{}}
	t.Cleanup(func() {
		for name, p := range g.procs {
			_ = p.cmd.Process.Kill()
			<-p.done
			if t.Failed() && p.stderr.Len() > 0 {
				tail := p.stderr.String()
				if len(tail) > 3000 {
					tail = tail[len(tail)-3000:]
				}
				t.Logf("---- stderr of member %s ----\n%s", name, tail)
			}
		}
	})
	return g
}

// start launches a member process of the given kind: kafka-go, franz-range, franz-coop, kcat.
func (g *groupRun) start(name, kind, instance string, sessionMs int) {
	g.t.Helper()
	var cmd *exec.Cmd
	if kind == "kcat" {
		cmd = exec.Command("kcat", "-b", g.bootstrap, "-G", g.group, g.topic, "-q", "-u",
			"-f", "read %p %o %s\n", "-X", "client.id="+name, "-X", "auto.offset.reset=earliest",
			"-X", fmt.Sprintf("session.timeout.ms=%d", sessionMs), "-X", "heartbeat.interval.ms=300",
			"-X", "auto.commit.interval.ms=100", "-X", "partition.assignment.strategy=range")
	} else {
		cmd = exec.Command(os.Args[0], "-test.run=^TestGroupMemberProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), memberKindEnv+"="+kind, memberBootstrapEnv+"="+g.bootstrap,
			memberGroupEnv+"="+g.group, memberTopicEnv+"="+g.topic, memberNameEnv+"="+name,
			memberInstanceEnv+"="+instance, fmt.Sprintf("%s=%d", memberSessionEnv, sessionMs))
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		g.t.Fatal(err)
	}
	p := &memberProc{cmd: cmd, done: make(chan struct{}), stderr: &bytes.Buffer{}}
	cmd.Stderr = &lockedWriter{w: p.stderr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		g.t.Fatalf("start member %s: %v", name, err)
	}
	g.mu.Lock()
	g.procs[name] = p
	g.mu.Unlock()
	go func() { // owned by the process: ends when its stdout closes
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			g.event(name, sc.Text())
		}
		_ = cmd.Wait()
		close(p.done)
		g.notify()
	}()
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (g *groupRun) event(member, line string) {
	f := strings.SplitN(line, " ", 4)
	g.mu.Lock()
	g.events++
	switch {
	case f[0] == "read" && len(f) == 4:
		var p int32
		var off int64
		fmt.Sscan(f[1], &p)
		fmt.Sscan(f[2], &off)
		g.reads = append(g.reads, readEvent{member, p, off, f[3]})
	case f[0] == "commit" && len(f) == 3:
		var p int32
		var off int64
		fmt.Sscan(f[1], &p)
		fmt.Sscan(f[2], &off)
		if g.commits[member] == nil {
			g.commits[member] = map[int32]int64{}
		}
		g.commits[member][p] = max(g.commits[member][p], off)
		g.commitLog = append(g.commitLog, commitEvent{member, p, off, len(g.reads), true})
	case f[0] == "commitfail" && len(f) == 3:
		var p int32
		var off int64
		fmt.Sscan(f[1], &p)
		fmt.Sscan(f[2], &off)
		g.commitLog = append(g.commitLog, commitEvent{member, p, off, len(g.reads), false})
	case f[0] == "subscribed":
		ev := subscribeEvent{member: member, at: len(g.reads), seq: g.events, offsets: map[int32]int64{}}
		for _, po := range strings.Fields(line)[1:] {
			var p int32
			var off int64
			if _, err := fmt.Sscanf(po, "%d:%d", &p, &off); err == nil {
				ev.offsets[p] = off
			}
		}
		g.subscriptions = append(g.subscriptions, ev)
	case f[0] == "assigned":
		g.assigned[member] = append(g.assigned[member], strings.Join(f[1:], " "))
	}
	g.mu.Unlock()
	g.notify()
}

func (g *groupRun) notify() {
	g.mu.Lock()
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
}

// waitFor waits, on the event channel, until cond holds over the recorded state.
func (g *groupRun) waitFor(what string, timeout time.Duration, cond func() bool) {
	g.t.Helper()
	deadline := time.After(timeout)
	for {
		g.mu.Lock()
		ok := cond()
		ch := g.changed
		g.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			g.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// readersOf maps each value read so far to its reads, in order.
func (g *groupRun) readersOf() map[string][]readEvent {
	out := map[string][]readEvent{}
	for _, r := range g.reads {
		out[r.value] = append(out[r.value], r)
	}
	return out
}

// waitAllRead waits until every value of the batch has been read by someone.
func (g *groupRun) waitAllRead(prefix string, n int, timeout time.Duration) {
	g.t.Helper()
	g.waitFor(fmt.Sprintf("all %d records %s-* read", n, prefix), timeout, func() bool {
		seen := map[string]bool{}
		for _, r := range g.reads {
			if strings.HasPrefix(r.value, prefix+"-") {
				seen[r.value] = true
			}
		}
		return len(seen) == n
	})
}

// waitCommitted waits until the group's committed offsets equal the log end of every partition,
// as kadm sees them from outside, and returns them.
func (g *groupRun) waitCommitted(timeout time.Duration) map[int32]int64 {
	g.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ends, err1 := g.adm.ListEndOffsets(ctx, g.topic)
		offs, err2 := g.adm.FetchOffsets(ctx, g.group)
		cancel()
		if err1 == nil && err2 == nil {
			got := map[int32]int64{}
			ok := true
			ends.Each(func(e kadm.ListedOffset) {
				o, found := offs.Lookup(g.topic, e.Partition)
				if !found || o.At != e.Offset {
					ok = false
				}
				got[e.Partition] = e.Offset
			})
			if ok {
				return got
			}
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("committed offsets of %s never reached the log end: %v %v", g.group, err1, err2)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitMembers waits until the group is Stable with n members (Empty for n = 0), each member
// with an assignment, and returns the members' assigned partitions by client id.
func (g *groupRun) waitMembers(n int, timeout time.Duration) map[string][]int32 {
	g.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		d, err := g.adm.DescribeGroups(ctx, g.group)
		cancel()
		dg := d[g.group]
		if err == nil && dg.Err == nil {
			if n == 0 && dg.State == "Empty" {
				return nil
			}
			if dg.State == "Stable" && len(dg.Members) == n {
				out := map[string][]int32{}
				total := 0
				for _, m := range dg.Members {
					if ca, _ := m.Assigned.AsConsumer(); ca != nil {
						for _, t := range ca.Topics {
							out[m.ClientID] = append(out[m.ClientID], t.Partitions...)
							total += len(t.Partitions)
						}
					}
				}
				if total == 6 {
					return out
				}
			}
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("group %s not Stable with %d members and 6 partitions assigned: %+v %v", g.group, n, dg, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop SIGTERMs a member (it leaves the group) and waits for it to exit.
func (g *groupRun) stop(name string) { g.signal(name, syscall.SIGTERM) }

// kill SIGKILLs a member: it leaves nothing behind but its session.
func (g *groupRun) kill(name string) { g.signal(name, syscall.SIGKILL) }

func (g *groupRun) signal(name string, sig syscall.Signal) {
	g.t.Helper()
	g.mu.Lock()
	p := g.procs[name]
	g.mu.Unlock()
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		g.t.Fatalf("member %s did not exit within 60s of %v", name, sig)
	}
}

// TestConsumerGroupsShareAndMovePartitions is the scenario for each real client:
// 3 members share a 6-partition topic; every record is read; one member leaves (LeaveGroup) and
// one is SIGKILLed (its session times out); partitions move to the survivors; after each move
// no committed record is read again and none is skipped; a member started after all have
// stopped resumes at the committed offsets.
func TestConsumerGroupsShareAndMovePartitions(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 1, Config: groupTestConfig})
	adm := newAdmin(t, c.Bootstrap())
	for _, kind := range []string{"kafka-go", "franz-range", "franz-coop", "kcat"} {
		t.Run(kind, func(t *testing.T) {
			topic, group := "share-"+kind, "group-"+kind
			createTopic(t, adm, topic, 6, nil)
			runShareScenario(t, c, adm, kind, topic, group)
		})
	}
}

func runShareScenario(t *testing.T, c *testcluster.Cluster, adm *kadm.Client, kind, topic, group string) {
	g := newGroupRun(t, c.Bootstrap(), adm, topic, group)
	for _, m := range []string{"A", "B", "C"} {
		g.start(m, kind, "", 3000)
	}
	g.waitMembers(3, 60*time.Second)

	// Phase 1: the three members share batch 1.
	produceN(t, c.Bootstrap(), topic, "b1", 600)
	g.waitAllRead("b1", 600, 60*time.Second)
	g.waitCommitted(60 * time.Second)
	g.mu.Lock()
	mark1 := len(g.reads)
	owned := map[string]map[int32]bool{}
	for _, r := range g.reads {
		if owned[r.member] == nil {
			owned[r.member] = map[int32]bool{}
		}
		owned[r.member][r.p] = true
	}
	g.mu.Unlock()
	for _, m := range []string{"A", "B", "C"} {
		if len(owned[m]) == 0 {
			t.Fatalf("member %s read nothing of batch 1: %v", m, owned)
		}
	}

	// Phase 2: A leaves; its partitions move to B and C.
	g.stop("A")
	g.waitMembers(2, 60*time.Second)
	produceN(t, c.Bootstrap(), topic, "b2", 600)
	g.waitAllRead("b2", 600, 60*time.Second)
	g.waitCommitted(60 * time.Second)
	g.mu.Lock()
	mark2 := len(g.reads)
	phase2 := append([]readEvent(nil), g.reads[mark1:mark2]...)
	g.mu.Unlock()
	moved := 0
	for _, r := range phase2 {
		if strings.HasPrefix(r.value, "b1-") {
			t.Fatalf("committed record %s read again by %s after A left", r.value, r.member)
		}
		if r.member == "A" {
			t.Fatalf("A read %s after leaving", r.value)
		}
		if owned["A"][r.p] {
			moved++
		}
	}
	if moved == 0 {
		t.Fatalf("A's partitions %v were not read by the survivors", owned["A"])
	}

	// Phase 3: B is SIGKILLed while records flow; after its session times out C gets
	// everything. Records B read but had not committed may be read again by C; nothing else.
	produceN(t, c.Bootstrap(), topic, "b3a", 1500)
	g.waitFor("B reading batch 3", 60*time.Second, func() bool {
		for _, r := range g.reads[mark2:] {
			if r.member == "B" {
				return true
			}
		}
		return false
	})
	g.kill("B")
	g.mu.Lock()
	bCommits := map[int32]int64{}
	for p, o := range g.commits["B"] {
		bCommits[p] = o
	}
	g.mu.Unlock()
	produceN(t, c.Bootstrap(), topic, "b3b", 1500)
	g.waitMembers(1, 60*time.Second)
	g.waitAllRead("b3a", 1500, 60*time.Second)
	g.waitAllRead("b3b", 1500, 60*time.Second)
	g.waitCommitted(60 * time.Second)
	g.mu.Lock()
	mark3 := len(g.reads)
	phase3 := append([]readEvent(nil), g.reads[mark2:mark3]...)
	g.mu.Unlock()
	byValue := map[string][]readEvent{}
	for _, r := range phase3 {
		if strings.HasPrefix(r.value, "b1-") || strings.HasPrefix(r.value, "b2-") {
			t.Fatalf("committed record %s read again by %s after B was killed", r.value, r.member)
		}
		byValue[r.value] = append(byValue[r.value], r)
	}
	rereads := 0
	for v, rs := range byValue {
		if len(rs) == 1 {
			continue
		}
		rereads++
		for _, r := range rs[:len(rs)-1] {
			// Only the killed member's uncommitted reads may be read again (kcat's commits are
			// not visible to the test: any of B's reads may be).
			if r.member != "B" {
				t.Fatalf("record %s read %d times; an earlier read by %s (not the killed member): %+v", v, len(rs), r.member, rs)
			}
			if kind != "kcat" && r.off < bCommits[r.p] {
				t.Fatalf("record %s (partition %d offset %d) read again although B had committed %d", v, r.p, r.off, bCommits[r.p])
			}
		}
		if rs[len(rs)-1].member == "B" {
			t.Fatalf("record %s read twice by the killed member: %+v", v, rs)
		}
	}
	t.Logf("%s: %d records of B's read again by C after the kill", kind, rereads)

	// Phase 4: everyone stops; a new member resumes at the committed offsets.
	g.stop("C")
	g.waitMembers(0, 60*time.Second)
	committed := g.waitCommitted(30 * time.Second)
	produceN(t, c.Bootstrap(), topic, "b4", 600)
	g.start("D", kind, "", 3000)
	g.waitAllRead("b4", 600, 60*time.Second)
	g.stop("D")
	g.mu.Lock()
	defer g.mu.Unlock()
	first := map[int32]int64{}
	for _, r := range g.reads[mark3:] {
		if r.member != "D" {
			t.Fatalf("%s read %s after stopping", r.member, r.value)
		}
		if !strings.HasPrefix(r.value, "b4-") {
			t.Fatalf("new member read %s (partition %d offset %d), committed before it started: %d", r.value, r.p, r.off, committed[r.p])
		}
		if f, ok := first[r.p]; !ok || r.off < f {
			first[r.p] = r.off
		}
	}
	for p, off := range committed {
		if first[p] != off {
			t.Fatalf("partition %d: new member started at %d, committed %d", p, first[p], off)
		}
	}
	// Every record of every batch was read.
	seen := g.readersOf()
	for _, b := range []struct {
		prefix string
		n      int
	}{{"b1", 600}, {"b2", 600}, {"b3a", 1500}, {"b3b", 1500}, {"b4", 600}} {
		for i := 0; i < b.n; i++ {
			if v := fmt.Sprintf("%s-%d", b.prefix, i); len(seen[v]) == 0 {
				t.Fatalf("record %s never read", v)
			}
		}
	}
}
