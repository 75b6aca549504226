package e2e

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/checker"
	"github.com/gregor-broker/gregor/internal/testcluster"
)

// offsetsTopic is Kafka's internal topic of committed offsets and group metadata.
const offsetsTopic = "__consumer_offsets"

// kafkaGroupPartition is Kafka's group → __consumer_offsets partition mapping,
// Utils.abs(groupId.hashCode) % partitions, written here from Java's definitions rather than
// taken from the broker, so the test also checks the broker agrees with any Kafka tool.
func kafkaGroupPartition(group string, partitions int32) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(group)) {
		h = 31*h + int32(u)
	}
	if h == -1<<31 {
		return 0 // Utils.abs(Integer.MIN_VALUE) is 0
	}
	if h < 0 {
		h = -h
	}
	return h % partitions
}

// askBroker sends one request to the broker at addr and nowhere else (no coordinator lookup,
// no retries on another broker), through a client of its own.
func askBroker(ctx context.Context, addr string, req kmsg.Request) (kmsg.Response, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return cl.SeedBrokers()[0].Request(ctx, req)
}

// findCoordinator asks the broker at addr for group's coordinator.
func findCoordinator(ctx context.Context, addr, group string) (int32, error) {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = group
	req.CoordinatorKeys = []string{group}
	r, err := askBroker(ctx, addr, req)
	if err != nil {
		return -1, err
	}
	resp := r.(*kmsg.FindCoordinatorResponse)
	code, node := resp.ErrorCode, resp.NodeID
	if len(resp.Coordinators) > 0 {
		code, node = resp.Coordinators[0].ErrorCode, resp.Coordinators[0].NodeID
	}
	if err := kerr.ErrorForCode(code); err != nil {
		return -1, err
	}
	return node, nil
}

// fetchOffsetsAt sends OffsetFetch for every committed partition of group to the broker at addr
// (whatever version the broker negotiates: v8 answers per group, older versions at the top).
func fetchOffsetsAt(ctx context.Context, addr, group string) (map[int32]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	req.Groups = append(req.Groups, rg)
	r, err := askBroker(ctx, addr, req)
	if err != nil {
		return nil, err
	}
	resp := r.(*kmsg.OffsetFetchResponse)
	code, topics := resp.ErrorCode, resp.Topics
	if len(resp.Groups) > 0 {
		code = resp.Groups[0].ErrorCode
		topics = nil
		for _, t := range resp.Groups[0].Topics {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.ErrorCode = p.Partition, p.Offset, p.ErrorCode
				rt.Partitions = append(rt.Partitions, rp)
			}
			topics = append(topics, rt)
		}
	}
	if err := kerr.ErrorForCode(code); err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for _, t := range topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("%s-%d: %w", t.Topic, p.Partition, err)
			}
			out[p.Partition] = p.Offset
		}
	}
	return out, nil
}

// describeGroupAt sends DescribeGroups for group to the broker at addr.
func describeGroupAt(ctx context.Context, addr, group string) (kmsg.DescribeGroupsResponseGroup, error) {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	r, err := askBroker(ctx, addr, req)
	if err != nil {
		return kmsg.DescribeGroupsResponseGroup{}, err
	}
	resp := r.(*kmsg.DescribeGroupsResponse)
	if len(resp.Groups) != 1 {
		return kmsg.DescribeGroupsResponseGroup{}, fmt.Errorf("%d groups described", len(resp.Groups))
	}
	return resp.Groups[0], kerr.ErrorForCode(resp.Groups[0].ErrorCode)
}

// pacedProducer writes "<prefix>-<seq>" records, ten at a time with acks=all, at a modest pace
// (the consumers print a line per record), until stopped. Every acknowledged record goes into
// the checker and into acked; a batch whose outcome is unknown goes into the checker as
// attempted.
type pacedProducer struct {
	cl   *kgo.Client
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex // guards acked
	acked   []string
	changed chan struct{} // closed and replaced whenever acked grows
}

func startPacedProducer(t *testing.T, bootstrap, topic, prefix string, h *checker.History) *pacedProducer {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.ProduceRequestTimeout(5*time.Second), kgo.RequestTimeoutOverhead(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	p := &pacedProducer{cl: cl, stop: make(chan struct{}), done: make(chan struct{}), changed: make(chan struct{})}
	go func() { // owned by the test: stopped by finish or Cleanup
		defer close(p.done)
		pace := time.NewTicker(40 * time.Millisecond) // a rate, not a synchronisation
		defer pace.Stop()
		for seq := 0; ; {
			select {
			case <-p.stop:
				return
			case <-pace.C:
			}
			recs := make([]*kgo.Record, 10)
			for i := range recs {
				recs[i] = &kgo.Record{Value: []byte(fmt.Sprintf("%s-%07d", prefix, seq))}
				seq++
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			res := cl.ProduceSync(ctx, recs...)
			cancel()
			var ok []string
			for _, r := range res {
				if r.Err != nil {
					h.Attempted(checker.FromKgo(r.Record))
					continue
				}
				h.Acked(checker.FromKgo(r.Record))
				ok = append(ok, string(r.Record.Value))
			}
			p.mu.Lock()
			p.acked = append(p.acked, ok...)
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
	}()
	t.Cleanup(p.finish)
	return p
}

// finish stops the producer; every record it sent has its outcome when it returns.
func (p *pacedProducer) finish() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	p.cl.Close()
}

// ackedSoFar is a copy of the values acknowledged so far.
func (p *pacedProducer) ackedSoFar() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.acked...)
}

// waitAcked waits until at least n records have been acknowledged.
func (p *pacedProducer) waitAcked(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		got, ch := len(p.acked), p.changed
		p.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("only %d of %d records acknowledged after %v", got, n, timeout)
		}
	}
}

// faultMark is where a fault happened in a group's event record: how many reads had been
// recorded, and the highest acknowledged commit per partition the members had reported.
type faultMark struct {
	name    string
	reads   int
	events  int // groupRun.events at the fault
	commits map[int32]int64
}

// markFault records a fault in g's history.
func markFault(g *groupRun, name string) faultMark {
	g.mu.Lock()
	defer g.mu.Unlock()
	return faultMark{name: name, reads: len(g.reads), events: g.events, commits: bestCommitsLocked(g)}
}

// bestCommitsLocked is the highest acknowledged commit per partition the members of g have
// reported. Called with g.mu held.
func bestCommitsLocked(g *groupRun) map[int32]int64 {
	best := map[int32]int64{}
	for _, byPart := range g.commits {
		for p, o := range byPart {
			best[p] = max(best[p], o)
		}
	}
	return best
}

// commitSum sums bestCommitsLocked over partitions: it grows as the group makes progress.
// Called with g.mu held.
func commitSum(g *groupRun) int64 {
	var n int64
	for _, o := range bestCommitsLocked(g) {
		n += o
	}
	return n
}

// TestCoordinatorFailover is issue 7's "with the replication issue landed, a coordinator
// failover loses no committed offset", on 3 brokers with offsets.topic.replication.factor 3.
// A franz-go group (range balancer) and a kafka-go group, whose ids map to the same
// __consumer_offsets partition, consume a 6-partition RF 3 topic that a producer keeps
// writing, committing as they read. Three rounds hit the broker FindCoordinator names as the
// groups' coordinator: SIGKILL, SIGSTOP past its ZooKeeper session timeout, SIGTERM (a clean
// shutdown). Each round:
//
//   - the partition's new leader (ZooKeeper's state znode) is who FindCoordinator names next;
//   - OffsetFetch sent to that broker — which loaded the groups from its replica — returns, for
//     every partition, at least the highest commit any member saw acknowledged before the fault,
//     and DescribeGroups there knows the group's metadata (protocol type consumer);
//   - the victim comes back and rejoins every ISR;
//   - the groups go on reading: every record acknowledged so far is read.
//
// At the end every acknowledged record was read by each group (none skipped), a record read
// twice was never one committed before the fault it followed, each group's committed offsets
// reach the log end, the shared checker finds every acknowledged record in the topic, and the
// __consumer_offsets replicas are byte-identical below the high watermark.
func TestCoordinatorFailover(t *testing.T) {
	const topic, parts, offsetsParts = "fo-orders", 6, 12
	c := testcluster.Start(t, testcluster.Options{Brokers: 3, Config: map[string]string{
		"group.initial.rebalance.delay.ms": "0",
		"group.min.session.timeout.ms":     "1000",
		"offsets.topic.replication.factor": "3",
		"offsets.topic.num.partitions":     fmt.Sprint(offsetsParts),
		"zookeeper.session.timeout.ms":     "6000",
	}})
	adm := newAdmin(t, c.Bootstrap())
	createReplicated(t, adm, topic, parts, 3, nil)
	conn := c.ZKConn()
	waitConverged(t, conn, topic, parts, 3, 60*time.Second)

	const franzGroup = "fo-franz"
	part := kafkaGroupPartition(franzGroup, offsetsParts)
	kgoGroup := ""
	for i := 0; kgoGroup == ""; i++ {
		if g := fmt.Sprintf("fo-kafka-go-%d", i); kafkaGroupPartition(g, offsetsParts) == part {
			kgoGroup = g
		}
	}

	h := checker.New(checker.Options{Idempotent: true})
	prod := startPacedProducer(t, c.Bootstrap(), topic, "fo", h)
	groups := map[string]*groupRun{
		franzGroup: newGroupRun(t, c.Bootstrap(), adm, topic, franzGroup),
		kgoGroup:   newGroupRun(t, c.Bootstrap(), adm, topic, kgoGroup),
	}
	names := []string{franzGroup, kgoGroup}
	groups[franzGroup].start("F1", "franz-range", "", 6000)
	groups[franzGroup].start("F2", "franz-range", "", 6000)
	groups[kgoGroup].start("K1", "kafka-go", "", 6000)
	groups[kgoGroup].start("K2", "kafka-go", "", 6000)
	for _, n := range names {
		groups[n].waitMembers(2, 90*time.Second)
	}
	// __consumer_offsets exists now (the members' FindCoordinator created it): wait for it to
	// be fully replicated before any fault.
	waitConverged(t, conn, offsetsTopic, offsetsParts, 3, 90*time.Second)

	marks := map[string][]faultMark{}
	live := func(not int32) int32 { // any broker but not
		for id := int32(1); id <= 3; id++ {
			if id != not {
				return id
			}
		}
		return -1
	}
	for round, fault := range []string{"SIGKILL", "SIGSTOP", "SIGTERM"} {
		// The groups are making progress before the fault.
		progress := map[string]int64{}
		for _, n := range names {
			g := groups[n]
			g.mu.Lock()
			progress[n] = commitSum(g)
			g.mu.Unlock()
		}
		prod.waitAcked(t, len(prod.ackedSoFar())+100, 60*time.Second)
		for _, n := range names {
			g := groups[n]
			g.waitFor(n+" committing", 60*time.Second, func() bool { return commitSum(g) > progress[n] })
		}

		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		before := waitPartition(t, conn, offsetsTopic, part, 30*time.Second, "leader before the fault",
			func(s partitionState) bool { return s.Leader > 0 && len(s.ISR) == 3 })
		victim := waitCoordinator(ctx, t, c.Addr(live(-1)), names, before.Leader)
		t.Logf("round %d: %s the coordinator of %v, broker %d (leader of %s-%d, epoch %d)",
			round+1, fault, names, victim, offsetsTopic, part, before.LeaderEpoch)

		switch fault {
		case "SIGKILL":
			c.Kill(victim)
		case "SIGSTOP":
			c.Pause(victim)
		case "SIGTERM":
			c.Stop(victim)
		}
		for _, n := range names {
			marks[n] = append(marks[n], markFault(groups[n], fault))
		}

		// A new leader of the group's partition, and FindCoordinator names it.
		after := waitPartition(t, conn, offsetsTopic, part, 90*time.Second, "new leader after "+fault,
			func(s partitionState) bool {
				return s.Leader > 0 && s.Leader != victim && s.LeaderEpoch > before.LeaderEpoch
			})
		coord := waitCoordinator(ctx, t, c.Addr(live(victim)), names, after.Leader)
		for _, n := range names {
			m := marks[n][len(marks[n])-1]
			got := waitOffsetsAt(ctx, t, c.Addr(coord), n)
			for p, acked := range m.commits {
				if got[p] < acked && !lateCommitExplains(t, groups[n], p, got[p], m) {
					t.Fatalf("round %d (%s): %s partition %d: the new coordinator %d has offset %d, a member saw %d acknowledged before the fault (all: %v, acked %v)",
						round+1, fault, n, p, coord, got[p], acked, got, m.commits)
				}
			}
			d, err := describeGroupAt(ctx, c.Addr(coord), n)
			if err != nil || d.ProtocolType != "consumer" || d.State == "Dead" {
				t.Fatalf("round %d (%s): %s described by the new coordinator %d: %+v %v", round+1, fault, n, coord, d, err)
			}
			t.Logf("round %d: %s on broker %d: %s, %d members; offsets %v ≥ acknowledged %v",
				round+1, n, coord, d.State, len(d.Members), got, m.commits)
		}

		// The victim comes back and rejoins every ISR.
		switch fault {
		case "SIGKILL", "SIGTERM":
			c.StartBroker(victim)
		case "SIGSTOP":
			c.Resume(victim)
		}
		c.WaitRegistered(victim, 60*time.Second)
		waitConverged(t, conn, offsetsTopic, offsetsParts, 3, 120*time.Second)
		waitConverged(t, conn, topic, parts, 3, 120*time.Second)

		// The groups resume: everything acknowledged so far is read by each.
		acked := prod.ackedSoFar()
		for _, n := range names {
			waitValuesRead(t, groups[n], acked, 120*time.Second)
		}
		cancel()
	}

	prod.finish()
	acked := prod.ackedSoFar()
	for _, n := range names {
		g := groups[n]
		waitValuesRead(t, g, acked, 120*time.Second)
		g.waitCommitted(120 * time.Second)
		checkNoCommittedReread(t, g, marks[n])
	}
	rep := h.Check(readBack(t, c, h, topic))
	if err := rep.Err(); err != nil {
		t.Fatalf("%v\n%s", err, rep)
	}
	compareReplicas(t, c, adm, offsetsTopic, offsetsParts, []int32{1, 2, 3})
	t.Logf("%d records acknowledged, each read by both groups; %d and %d reads", rep.Acked,
		len(groups[franzGroup].reads), len(groups[kgoGroup].reads))
}

// waitCoordinator asks the broker at addr for each group's coordinator until every answer is
// want (the metadata of the broker asked may lag the controller's decision by a moment).
func waitCoordinator(ctx context.Context, t *testing.T, addr string, groups []string, want int32) int32 {
	t.Helper()
	var last string
	for {
		ok := true
		for _, g := range groups {
			id, err := findCoordinator(ctx, addr, g)
			if err != nil || id != want {
				ok = false
				last = fmt.Sprintf("%s: coordinator %d, %v", g, id, err)
				break
			}
		}
		if ok {
			return want
		}
		select {
		case <-ctx.Done():
			t.Fatalf("FindCoordinator at %s never named broker %d: %s", addr, want, last)
		case <-time.After(100 * time.Millisecond): // polling another process's state
		}
	}
}

// waitOffsetsAt fetches group's offsets from the broker at addr, retrying while it is loading
// the group (COORDINATOR_LOAD_IN_PROGRESS) or has not yet heard it leads the partition
// (NOT_COORDINATOR).
func waitOffsetsAt(ctx context.Context, t *testing.T, addr, group string) map[int32]int64 {
	t.Helper()
	for {
		got, err := fetchOffsetsAt(ctx, addr, group)
		if err == nil {
			return got
		}
		if !errors.Is(err, kerr.CoordinatorLoadInProgress) && !errors.Is(err, kerr.NotCoordinator) &&
			!errors.Is(err, kerr.CoordinatorNotAvailable) {
			t.Fatalf("OffsetFetch of %s at %s: %v", group, addr, err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("OffsetFetch of %s at %s: still %v", group, addr, err)
		case <-time.After(100 * time.Millisecond): // polling another process's state
		}
	}
}

// waitValuesRead waits until every value has been read by some member of g.
func waitValuesRead(t *testing.T, g *groupRun, values []string, timeout time.Duration) {
	t.Helper()
	want := map[string]bool{}
	for _, v := range values {
		want[v] = true
	}
	g.waitFor(fmt.Sprintf("%s to read all %d acknowledged records", g.group, len(values)), timeout, func() bool {
		n := 0
		seen := map[string]bool{}
		for _, r := range g.reads {
			if want[r.value] && !seen[r.value] {
				seen[r.value] = true
				n++
			}
		}
		return n == len(want)
	})
}

// checkNoCommittedReread fails if a group member started reading a partition, after a fault,
// below a commit some member had seen acknowledged before that fault: the new coordinator must
// have had that commit. A commit reported after the fault at or below the start (a member's late
// commit moving the offset back, which Kafka accepts too) explains it; commits in flight at the
// fault were never acknowledged and hold nothing.
//
// franz-go members (BlockRebalanceOnPoll) are held to it through their reads: a record read
// again after a fault must not be one committed before it. kafka-go members are held to it
// through the offsets each generation starts at (their "subscribed" events), because kafka-go
// returns records it buffered before a rebalance, for partitions it may no longer own, until the
// next generation starts (its Reader.unsubscribe says so): such a read again is kafka-go's
// at-least-once delivery, not the coordinator's, and is counted, not failed.
func checkNoCommittedReread(t *testing.T, g *groupRun, marks []faultMark) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	markBefore := func(at int) int { // the last fault marked before read number at
		return sort.Search(len(marks), func(k int) bool { return marks[k].reads > at }) - 1
	}
	seen := map[string]bool{}
	rereads, excused := 0, 0
	for i, r := range g.reads {
		if !seen[r.value] {
			seen[r.value] = true
			continue
		}
		rereads++
		k := markBefore(i)
		if k < 0 {
			continue // before the first fault: no fault's commits to hold it to
		}
		m := marks[k]
		if r.off >= m.commits[r.p] {
			continue
		}
		if c, ok := regressingCommit(g, r.p, r.off, m.reads); ok {
			// kafka-go's CommitMessages of a generation that ended blocks until the next
			// one and then commits, as a member of it, a partition it may no longer own:
			// the broker accepts it (Kafka checks generation and member, not ownership),
			// and the offset moves back. The record is read again because a member said
			// so, not because the broker lost a commit.
			t.Logf("%s: %s (partition %d offset %d) read again by %s after %s committed %d back over %d (acknowledged: %v)",
				g.group, r.value, r.p, r.off, r.member, c.member, c.off, m.commits[r.p], c.acked)
			excused++
			continue
		}
		if len(g.subscriptions) > 0 {
			// kafka-go: judged by the generation starts below.
			excused++
			continue
		}
		t.Fatalf("%s: %s (partition %d offset %d) read again by %s after the %s although offset %d was committed before it",
			g.group, r.value, r.p, r.off, r.member, m.name, m.commits[r.p])
	}
	starts := 0
	for _, s := range g.subscriptions {
		k := sort.Search(len(marks), func(k int) bool { return marks[k].events >= s.seq }) - 1
		if k < 0 {
			continue // before the first fault
		}
		m := marks[k]
		for p, start := range s.offsets {
			starts++
			if acked, ok := m.commits[p]; !ok || start >= acked {
				continue
			}
			if c, ok := regressingCommit(g, p, start, m.reads); ok {
				t.Logf("%s: %s started partition %d at %d, below %d acknowledged before the %s, after %s committed %d (acknowledged: %v)",
					g.group, s.member, p, start, m.commits[p], m.name, c.member, c.off, c.acked)
				continue
			}
			t.Fatalf("%s: %s started partition %d at offset %d after the %s although offset %d was committed before it (generation start %v)",
				g.group, s.member, p, start, m.name, m.commits[p], s.offsets)
		}
	}
	t.Logf("%s: %d records read again (%d of them below a commit acknowledged before a fault: a logged late commit, or kafka-go's buffered records); %d partition starts of %d generations checked",
		g.group, rereads, excused, starts, len(g.subscriptions))
}

// lateCommitExplains reports whether a member's commit made after fault m explains a
// coordinator holding offset off for partition p, below what was acknowledged before m. A
// kafka-go member whose CommitMessages straddled the rebalance commits, in the next generation,
// an offset of records it read before it (CI saw 244 stored over an acknowledged 245, by the
// member's own late commit). The broker stores it as Kafka does; the member reports it when
// CommitMessages returns, which may follow the OffsetFetch that saw it, so this waits for that
// report — on the failure path only — for a bounded time.
func lateCommitExplains(t *testing.T, g *groupRun, p int32, off int64, m faultMark) bool {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		g.mu.Lock()
		c, ok := regressingCommit(g, p, off, m.reads)
		ch := g.changed
		g.mu.Unlock()
		if ok {
			t.Logf("%s partition %d: offset %d below %d acknowledged before the %s: %s committed %d after it (acknowledged: %v)",
				g.group, p, off, m.commits[p], m.name, c.member, c.off, c.acked)
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// regressingCommit finds a commit of partition p at or below off — acknowledged or failed,
// which the broker may have stored all the same — reported after a fault's mark (reads index
// from). Its report may follow the read: the member that commits late logs the outcome when
// CommitMessages returns, after another may already have read from the moved offset.
func regressingCommit(g *groupRun, p int32, off int64, from int) (commitEvent, bool) {
	for _, c := range g.commitLog {
		if c.p == p && c.off <= off && c.at >= from {
			return c, true
		}
	}
	return commitEvent{}, false
}

// readBack reads the whole topic from the start through the shared checker's reader.
func readBack(t *testing.T, c *testcluster.Cluster, h *checker.History, topic string) []checker.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// ReadBack, not ReadAll: after the coordinator faults moved leaderships, a new leader's high
	// watermark can trail what was acknowledged for a moment (CI's run read three records
	// "lost" that both groups had just consumed).
	back, err := checker.ReadBack(ctx, c.Bootstrap(), h, topic)
	if err != nil {
		t.Fatalf("read back %s: %v", topic, err)
	}
	return back
}
