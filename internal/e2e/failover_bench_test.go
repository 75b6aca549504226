package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// BenchmarkControllerFailover (scripts/bench-failover.sh; a benchmark, not a test): N partitions
// of replication factor 3 on 3 brokers (GREGOR_FAILOVER_PARTITIONS, default 10000), SIGKILL the
// controller, and measure from the old controller's session expiry — the moment ZooKeeper
// deletes its /controller — to (a) a new controller elected, (b) every partition led by a live
// broker in ZooKeeper, (c) every live broker's Metadata naming live leaders for all of them.
// Each run makes one cluster and times GREGOR_FAILOVER_ROUNDS failovers on it (default 5):
// between two, the killed broker returns, every ISR is full again and a preferred election
// puts each leader back on its first replica, so every round starts from the same state.
// Reported as the rounds' medians: ms-to-elect, ms-to-leaders and ms-to-metadata.
func BenchmarkControllerFailover(b *testing.B) {
	total, rounds := envInt(b, "GREGOR_FAILOVER_PARTITIONS", 10_000, 100), envInt(b, "GREGOR_FAILOVER_ROUNDS", 5, 1)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := newFailoverCluster(b, total, nil)
		var elect, leaders, meta []time.Duration
		for r := 1; r <= rounds; r++ {
			if r > 1 {
				f.restore()
			}
			e, l, m := f.failover(r)
			elect, leaders, meta = append(elect, e), append(leaders, l), append(meta, m)
		}
		b.ReportMetric(float64(median(elect).Milliseconds()), "ms-to-elect")
		b.ReportMetric(float64(median(leaders).Milliseconds()), "ms-to-leaders")
		b.ReportMetric(float64(median(meta).Milliseconds()), "ms-to-metadata")
		b.Logf("%d partitions, median of %d rounds: new controller %v, all leaders live in ZooKeeper %v, every broker's metadata %v after the session expired",
			total, rounds, median(elect).Round(time.Millisecond), median(leaders).Round(time.Millisecond), median(meta).Round(time.Millisecond))
	}
}

func envInt(b *testing.B, name string, def, least int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		b.Fatalf("%s=%q: want a number ≥ %d", name, v, least)
	}
	return n
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// failoverCluster is the benchmark's cluster: topics fo-0… of per partitions each.
type failoverCluster struct {
	b     *testing.B
	c     *testcluster.Cluster
	adm   *kadm.Client
	conn  *zk.Conn
	names []string
	per   int32
	dead  int32 // the broker the last round killed
}

// newFailoverCluster starts 3 brokers (with extra on top of the benchmark's settings) holding
// total partitions of replication factor 3, every one led.
func newFailoverCluster(b *testing.B, total int, extra map[string]string) *failoverCluster {
	topics := max(1, total/1000)
	per := int32(total / topics)
	cfg := map[string]string{
		"zookeeper.session.timeout.ms": "6000",
		"log.segment.bytes":            "1048576",
	}
	if os.Getenv("GREGOR_FAILOVER_PROFILE") != "" {
		cfg["gregor.debug.pprof"] = "true"
	}
	for k, v := range extra {
		cfg[k] = v
	}
	c := testcluster.Start(b, testcluster.Options{Brokers: 3, Config: cfg})
	adm := newAdmin(b, c.Bootstrap())
	adm.SetTimeoutMillis(int32((30 * time.Minute).Milliseconds()))
	for t := 0; t < topics; t++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		resp, err := adm.CreateTopic(ctx, per, 3, nil, fmt.Sprintf("fo-%d", t))
		cancel()
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			b.Fatalf("create fo-%d: %v", t, err)
		}
	}
	f := &failoverCluster{b: b, c: c, adm: adm, conn: c.ZKConn(), per: per}
	for t := 0; t < topics; t++ {
		f.names = append(f.names, fmt.Sprintf("fo-%d", t))
	}
	for id := int32(1); id <= 3; id++ {
		waitAllLed(b, c.Addr(id), f.names, per, -1, 30*time.Minute)
	}
	return f
}

// restore brings the last round's killed broker back and waits until every partition's ISR
// holds all three replicas and every broker's Metadata shows each partition led by its first
// replica: the state the first round started from.
func (f *failoverCluster) restore() {
	b := f.b
	f.c.StartBroker(f.dead)
	f.c.WaitRegistered(f.dead, 5*time.Minute)
	for deadline := time.Now().Add(10 * time.Minute); ; {
		short := f.states(func(s partitionState) bool { return len(s.ISR) < 3 })
		if len(short) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d partitions' ISRs not full 10 min after broker %d returned; first: %s", len(short), f.dead, short[0])
		}
		time.Sleep(200 * time.Millisecond) // polling ZooKeeper for the leaders' ISR expansions
	}
	set := kadm.TopicsSet{}
	for _, n := range f.names {
		for p := int32(0); p < f.per; p++ {
			set.Add(n, p)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	_, err := f.adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, set) // per-partition "not needed" is expected
	cancel()
	if err != nil {
		b.Fatalf("ElectLeaders: %v", err)
	}
	for id := int32(1); id <= 3; id++ {
		waitAllLed(b, f.c.Addr(id), f.names, f.per, preferred, 10*time.Minute)
	}
}

// states re-reads every partition's state, 64 at a time, and describes those matching bad.
func (f *failoverCluster) states(bad func(partitionState) bool) []string {
	var parts []watchedState
	for _, n := range f.names {
		for p := int32(0); p < f.per; p++ {
			parts = append(parts, watchedState{tpRef: tpRef{n, p}})
		}
	}
	return readStatesWhere(f.conn, parts, func(_ watchedState, s partitionState) bool { return bad(s) })
}

// failover is one round: SIGKILL the controller and time (a), (b) and (c).
func (f *failoverCluster) failover(round int) (elect, leaders, meta time.Duration) {
	b, c, conn, names, per := f.b, f.c, f.conn, f.names, f.per
	dead := controllerID(b, conn)
	f.dead = dead
	// The partitions the dead broker leads, each with a watch on its state: the clock waits for
	// their changes without polling, which would compete with the new controller's reads. Their
	// leader epochs now say, afterwards, that the one change each saw was the election.
	var pending []watchedState
	for _, n := range names {
		for p := int32(0); p < per; p++ {
			if s, _, ev, err := getState(conn, n, p); err == nil && s.Leader == dead {
				pending = append(pending, watchedState{tpRef{n, p}, ev, s.LeaderEpoch})
			}
		}
	}
	_, _, gone, err := conn.ExistsW(testcluster.Chroot + "/controller")
	if err != nil {
		b.Fatal(err)
	}
	pids := map[string]int{"zookeeper": c.ZK.PID(), "benchmark": os.Getpid()}
	for id := int32(1); id <= 3; id++ {
		if id != dead {
			pids[fmt.Sprintf("broker %d", id)] = c.PID(id)
		}
	}
	b.StartTimer()
	c.Kill(dead)
	<-gone // session expiry: ZooKeeper deleted the dead controller's /controller
	expired := time.Now()
	cpuBefore := cpuTimes(pids)
	profiled := f.profile(round, dead)
	for {
		ok, _, created, err := conn.ExistsW(testcluster.Chroot + "/controller")
		if err != nil {
			b.Fatal(err)
		}
		if ok {
			break
		}
		<-created
	}
	elect = time.Since(expired)
	for _, w := range pending {
		<-w.ev // the state changed; checked below, once the clock has stopped
	}
	leaders = time.Since(expired)
	for id := int32(1); id <= 3; id++ {
		if id != dead {
			waitAllLed(b, c.Addr(id), names, per, dead, 30*time.Minute)
		}
	}
	meta = time.Since(expired)
	b.StopTimer()
	cpu := cpuTimes(pids)
	profiled.Wait()
	// The benchmark's own reads come after the clock: run during it, 3 333 of them competed with
	// the brokers for the CPU while they applied the new controller's requests. Each watched
	// partition must now be led by a live broker at exactly one leader epoch more than before:
	// then its first change, the one the watch timed, was the election.
	if bad := notElectedOnce(conn, pending, dead); len(bad) > 0 {
		b.Fatalf("%d of %d partitions were not elected exactly once, so (b) is not their first change; first: %s",
			len(bad), len(pending), bad[0])
	}
	// Printed, not logged: the testing package keeps only the first 10 lines a benchmark logs.
	fmt.Printf("round %d, %d partitions, %d led by the killed controller: new controller %v, all leaders live in ZooKeeper %v, every broker's metadata %v after the session expired\n",
		round, len(names)*int(per), len(pending), elect.Round(time.Millisecond), leaders.Round(time.Millisecond), meta.Round(time.Millisecond))
	var used []string
	for name := range pids {
		used = append(used, fmt.Sprintf("%s %v", name, cpu[name]-cpuBefore[name]))
	}
	sort.Strings(used)
	fmt.Printf("round %d, CPU from the session expiry to (c), controller broker %d: %s\n", round, controllerID(b, conn), strings.Join(used, ", "))
	return elect, leaders, meta
}

// profile, with GREGOR_FAILOVER_PROFILE set to a directory, takes a 1 s CPU profile of each
// broker but dead, from now, into round-R-broker-N.pprof there; the caller waits for them.
func (f *failoverCluster) profile(round int, dead int32) *sync.WaitGroup {
	var wg sync.WaitGroup
	dir := os.Getenv("GREGOR_FAILOVER_PROFILE")
	if dir == "" {
		return &wg
	}
	for id := int32(1); id <= 3; id++ {
		if id == dead {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(strings.TrimSuffix(f.c.MetricsURL(id), "/metrics") + "/debug/pprof/profile?seconds=1")
			if err != nil {
				f.b.Errorf("profile of broker %d: %v", id, err)
				return
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, fmt.Sprintf("round-%d-broker-%d.pprof", round, id)), data, 0o644)
			}
			if err != nil {
				f.b.Errorf("profile of broker %d: %v", id, err)
			}
		}()
	}
	return &wg
}

// cpuTimes reads each process's user+system CPU time from /proc (10 ms resolution); a process
// that is gone reads 0.
func cpuTimes(pids map[string]int) map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command, which is in parentheses and may hold spaces: state is
		// field 3, utime and stime fields 14 and 15, in clock ticks of 1/100 s on Linux.
		f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[name] = time.Duration(u+st) * 10 * time.Millisecond
	}
	return out
}

type tpRef struct {
	topic string
	p     int32
}

// notElectedOnce describes the partitions of parts not led by a live broker at their leader
// epoch before the kill plus one.
func notElectedOnce(conn *zk.Conn, parts []watchedState, dead int32) []string {
	return readStatesWhere(conn, parts, func(k watchedState, s partitionState) bool {
		return s.Leader == dead || s.Leader < 0 || s.LeaderEpoch != k.epoch+1
	})
}

// readStatesWhere re-reads the states of parts 64 at a time and describes those that are
// unreadable or match bad.
func readStatesWhere(conn *zk.Conn, parts []watchedState, bad func(watchedState, partitionState) bool) []string {
	var mu sync.Mutex
	var out []string
	work := make(chan watchedState)
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				data, _, err := conn.Get(fmt.Sprintf("%s/brokers/topics/%s/partitions/%d/state", testcluster.Chroot, k.topic, k.p))
				var s partitionState
				if err == nil {
					err = json.Unmarshal(data, &s)
				}
				if err != nil || bad(k, s) {
					mu.Lock()
					out = append(out, fmt.Sprintf("%s-%d: %+v %v (leader epoch before %d)", k.topic, k.p, s, err, k.epoch))
					mu.Unlock()
				}
			}
		}()
	}
	for _, k := range parts {
		work <- k
	}
	close(work)
	wg.Wait()
	return out
}

// watchedState is a partition, the watch on its state znode and its leader epoch when the
// watch was set.
type watchedState struct {
	tpRef
	ev    <-chan zk.Event
	epoch int32
}

// preferred, as waitAllLed's dead, asks for every partition led by its first replica.
const preferred int32 = -2

// waitAllLed polls broker addr's Metadata until every partition of the topics has a leader
// other than dead (-1: any leader; preferred: its first replica).
func waitAllLed(tb testing.TB, addr string, topics []string, per int32, dead int32, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := allLed(tb, addr, topics, per, dead)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("broker %s metadata not current within %v: %s", addr, timeout, why)
		}
		time.Sleep(20 * time.Millisecond) // polling another process's metadata
	}
}

func allLed(tb testing.TB, addr string, topics []string, per int32, dead int32) (bool, string) {
	tb.Helper()
	c := dialRaw(tb, addr)
	defer c.conn.Close()
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	c.write(c.frame(req, 7))
	frame, err := c.readFrame(60 * time.Second)
	if err != nil {
		return false, err.Error()
	}
	resp := kmsg.NewPtrMetadataResponse()
	resp.Version = 7
	if err := resp.ReadFrom(frame[4:]); err != nil {
		return false, err.Error()
	}
	if len(resp.Topics) != len(topics) {
		return false, fmt.Sprintf("%d topics", len(resp.Topics))
	}
	for _, mt := range resp.Topics {
		if int32(len(mt.Partitions)) != per {
			return false, fmt.Sprintf("%d partitions", len(mt.Partitions))
		}
		for _, p := range mt.Partitions {
			if p.Leader < 0 || p.Leader == dead || dead == preferred && (len(p.Replicas) == 0 || p.Leader != p.Replicas[0]) {
				return false, fmt.Sprintf("%s partition %d leader %d", *mt.Topic, p.Partition, p.Leader)
			}
		}
	}
	return true, strings.Repeat("", 0)
}
