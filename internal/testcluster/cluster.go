package testcluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gregor-broker/gregor/internal/testport"
	"github.com/gregor-broker/gregor/internal/zktest"
)

// Chroot is the ZooKeeper chroot every test cluster uses, as the example configs do.
const Chroot = "/kafka"

// Options shape a cluster; the zero value is a single broker with Kafka's defaults.
type Options struct {
	Brokers int               // number of brokers, ids 1..N (default 1)
	Config  map[string]string // extra broker config keys written to every broker's YAML
	// NoRace runs brokers built without the race detector even under -race (PlainBinary).
	NoRace bool
	// PerBroker adds (or overrides) keys in one broker's config: broker.rack, say.
	PerBroker map[int32]map[string]string
	// Netns runs every broker in a network namespace of its own (root and iproute2 needed), so
	// Isolate can cut one off the network; ZooKeeper and the test stay on the host.
	Netns bool
}

// Cluster is a ZooKeeper server plus broker processes.
type Cluster struct {
	t      testing.TB
	ZK     *zktest.Server
	dir    string
	opts   Options
	mu     sync.Mutex // guards brokers' process fields and zkc
	broker map[int32]*Broker
	zkc    *zk.Conn // the harness's own session, opened on first use
	lab    *netLab  // with Options.Netns
}

// Broker is one broker process. Port is fixed for the life of the cluster so a restarted broker
// comes back on the same address, as a real one would.
type Broker struct {
	ID          int32
	Host        string // the address it listens on (127.0.0.1, or its namespace's)
	Port        int
	MetricsPort int    // its Prometheus /metrics endpoint (gregor.metrics.listen)
	Config      string // path of its YAML file
	LogFile     string
	DataDir     string
	cmd         *exec.Cmd
	done        chan struct{} // closed when cmd has exited and its exit has been judged
	// sent is the last signal the test sent this run (Stop: SIGTERM, Kill: SIGKILL); set
	// under Cluster.mu before the signal goes out, read by the run's waiter.
	sent syscall.Signal
	// staleOwner is the session owning /brokers/ids/<id> when this run started: a killed
	// run's registration outlives it until its session times out, and is not this run's.
	staleOwner int64
}

// build is one broker binary, built once per test binary.
type build struct {
	once sync.Once
	path string
	err  error
}

var raceBuild, plainBuild build

// Binary builds ./cmd/gregor once per test binary and returns its path. When the test binary
// itself runs with -race, the broker is built with -race too, so a data race inside a broker
// process fails the test that provoked it (see the log scan in StartBroker).
func Binary(t testing.TB) string {
	t.Helper()
	if RaceEnabled {
		return raceBuild.get(t, true)
	}
	return plainBuild.get(t, false)
}

// PlainBinary is the broker built without the race detector, for tests about scale (tens of
// thousands of partitions) rather than races, which a race-built broker runs many times slower.
func PlainBinary(t testing.TB) string {
	t.Helper()
	return plainBuild.get(t, false)
}

func (b *build) get(t testing.TB, race bool) string {
	t.Helper()
	b.once.Do(func() {
		removeDeadBuilds()
		dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", buildDirPrefix, os.Getpid()))
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "gregor")
		args := []string{"build", "-o", b.path}
		if race {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/gregor")...)
		cmd.Dir = repoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go %v: %v\n%s", args, err, out)
		}
	})
	if b.err != nil {
		t.Fatalf("%v", b.err)
	}
	return b.path
}

// buildDirPrefix names the temporary directories broker binaries are built into; the test
// process's pid follows it, so a later process can tell whose a directory is.
const buildDirPrefix = "gregor-bin-"

// removeDeadBuilds deletes the build directories of test processes that have exited. A test
// binary has no hook at its exit to remove its own (a package may have no TestMain), so each one
// removes its predecessors' and at most the last run's stay on disk.
func removeDeadBuilds() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), buildDirPrefix+"*"))
	for _, dir := range dirs {
		pidPart, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(dir), buildDirPrefix), "-")
		pid, err := strconv.Atoi(pidPart)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
			continue // not named by this harness, or ours
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(dir)
		}
	}
}

// repoRoot finds the module root from this source file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// RepoRoot is the module root, for tests that run scripts from the tree.
func RepoRoot() string { return repoRoot() }

// Start starts ZooKeeper and the brokers and returns when every broker is registered in
// /brokers/ids. Everything is stopped in t.Cleanup.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Brokers <= 0 {
		opts.Brokers = 1
	}
	c := &Cluster{t: t, dir: t.TempDir(), opts: opts, broker: map[int32]*Broker{}}
	c.binary(t) // build before starting anything, so a compile error fails fast
	if opts.Netns {
		c.lab = newNetLab(t)
		c.ZK = zktest.StartAt(t, c.lab.hostIP())
	} else {
		c.ZK = zktest.Start(t)
	}
	for i := 1; i <= opts.Brokers; i++ {
		id := int32(i)
		b := &Broker{ID: id, Host: "127.0.0.1", Port: FreePort(t), MetricsPort: FreePort(t)}
		if c.lab != nil {
			// An empty namespace of its own: Kafka's ports are free there.
			c.lab.addBroker(id)
			b.Host, b.Port, b.MetricsPort = c.lab.brokerIP(id), 9092, 7071
		}
		b.DataDir = filepath.Join(c.dir, fmt.Sprintf("broker-%d", id), "data")
		b.Config = filepath.Join(c.dir, fmt.Sprintf("broker-%d.yaml", id))
		b.LogFile = filepath.Join(c.dir, fmt.Sprintf("broker-%d.log", id))
		c.broker[id] = b
		c.writeConfig(b)
	}
	t.Cleanup(c.stopAll)
	for id := range c.broker {
		c.StartBroker(id)
	}
	for id := range c.broker {
		c.WaitRegistered(id, 30*time.Second)
	}
	return c
}

func (c *Cluster) writeConfig(b *Broker) {
	var buf bytes.Buffer
	defaults := [][2]string{
		{"broker.id", fmt.Sprint(b.ID)},
		{"listeners", fmt.Sprintf("PLAINTEXT://%s:%d", b.Host, b.Port)},
		{"advertised.listeners", fmt.Sprintf("PLAINTEXT://%s:%d", b.Host, b.Port)},
		{"log.dirs", b.DataDir},
		{"zookeeper.connect", c.ZK.Connect(Chroot)},
		{"zookeeper.session.timeout.ms", "6000"},
		{"offsets.topic.replication.factor", "1"},
		{"gregor.metrics.listen", fmt.Sprintf("%s:%d", b.Host, b.MetricsPort)},
	}
	extra := map[string]string{}
	for k, v := range c.opts.Config {
		extra[k] = v
	}
	for k, v := range c.opts.PerBroker[b.ID] {
		extra[k] = v
	}
	// Options.Config overrides a default rather than repeating the key (YAML refuses that).
	for _, kv := range defaults {
		if _, over := extra[kv[0]]; !over {
			fmt.Fprintf(&buf, "%s: %q\n", kv[0], kv[1])
		}
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&buf, "%s: %q\n", k, extra[k])
	}
	if err := os.WriteFile(b.Config, buf.Bytes(), 0o644); err != nil {
		c.t.Fatalf("write broker config: %v", err)
	}
}

// Bootstrap is the comma-separated list of every broker's address.
func (c *Cluster) Bootstrap() string {
	var addrs []string
	for i := 1; i <= c.opts.Brokers; i++ {
		addrs = append(addrs, c.Addr(int32(i)))
	}
	return strings.Join(addrs, ",")
}

// Addr is one broker's host:port.
func (c *Cluster) Addr(id int32) string {
	return net.JoinHostPort(c.broker[id].Host, strconv.Itoa(c.broker[id].Port))
}

// MetricsURL is broker id's Prometheus endpoint.
func (c *Cluster) MetricsURL(id int32) string {
	return "http://" + net.JoinHostPort(c.broker[id].Host, strconv.Itoa(c.broker[id].MetricsPort)) + "/metrics"
}

// Broker returns the process record of broker id.
func (c *Cluster) Broker(id int32) *Broker { return c.broker[id] }

// StartBroker starts (or restarts) broker id's process. It does not wait for registration.
func (c *Cluster) StartBroker(id int32) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.broker[id]
	if b.cmd != nil {
		select {
		case <-b.done:
		default:
			c.t.Fatalf("broker %d is already running", id)
		}
	}
	logf, err := os.OpenFile(b.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatalf("open broker log: %v", err)
	}
	var logStart int64 // this run's part of the log, which restarts append to
	if fi, err := logf.Stat(); err == nil {
		logStart = fi.Size()
	}
	b.sent = 0
	b.staleOwner = 0
	if _, st, err := c.harnessZK().Exists(fmt.Sprintf("%s/brokers/ids/%d", Chroot, id)); err != nil {
		c.t.Fatalf("broker %d registration: %v", id, err)
	} else if st != nil {
		b.staleOwner = st.EphemeralOwner
	}
	argv := []string{c.binary(c.t), "broker", "--config", b.Config}
	if c.lab != nil {
		argv = c.lab.wrap(id, argv)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		c.t.Fatalf("start broker %d: %v", id, err)
	}
	done := make(chan struct{})
	go func() { // owned by the process: ends when it exits; stopAll waits for it
		werr := cmd.Wait()
		logf.Close()
		c.mu.Lock()
		sent := b.sent
		c.mu.Unlock()
		// Errorf before close(done): whoever waits on done (Stop, Kill, stopAll in t.Cleanup)
		// returns only after the verdict, so it never lands after the test has finished.
		found, upstream := scanLog(b.LogFile, logStart)
		problem := judgeExit(cmd.ProcessState, werr, sent)
		if problem != "" && upstream > 0 && found == "" && cmd.ProcessState.ExitCode() == raceExitCode &&
			(sent == syscall.SIGTERM || sent == expectedExit) {
			// A clean exit the race detector turned into 66 for upstream races alone.
			problem = ""
		}
		if upstream > 0 {
			c.t.Logf("broker %d: %d data race report(s) inside go-zookeeper alone (its Conn.lastZxid, read by sendSetWatches while recvLoop writes it on a reconnect: upstream, v1.0.4) not counted", id, upstream)
		}
		if problem != "" {
			c.t.Errorf("broker %d %s; log:\n%s", id, problem, tail(b.LogFile, logStart, 8000))
		}
		if found != "" {
			c.t.Errorf("broker %d logged a crash or data race:\n%s", id, found)
		}
		close(done)
	}()
	b.cmd, b.done = cmd, done
}

// expectedExit stands, in Broker.sent, for "the test provoked a shutdown" (ExpectExit).
const expectedExit = syscall.Signal(-1)

// judgeExit says what is wrong with how a broker process ended, or "" if nothing: the test's
// own SIGKILL is an expected crash, a SIGTERM or a shutdown the test provoked (ExpectExit) must
// end in a clean exit 0, and a broker that exits by itself otherwise, with any status, has
// failed.
func judgeExit(ps *os.ProcessState, werr error, sent syscall.Signal) string {
	if ps == nil {
		return fmt.Sprintf("could not be waited for: %v", werr)
	}
	ws, _ := ps.Sys().(syscall.WaitStatus)
	switch {
	case sent == syscall.SIGKILL && ws.Signaled() && ws.Signal() == syscall.SIGKILL:
		return ""
	case (sent == syscall.SIGTERM || sent == expectedExit) && ps.Success():
		return ""
	case sent == syscall.SIGTERM:
		return fmt.Sprintf("did not shut down cleanly on SIGTERM: %v", ps)
	case sent == expectedExit:
		return fmt.Sprintf("did not shut down cleanly when the test made it stop: %v", ps)
	case sent == 0:
		return fmt.Sprintf("exited on its own: %v", ps)
	default:
		return fmt.Sprintf("ended with %v after the test sent %v", ps, sent)
	}
}

// crashLine matches what the Go runtime and the race detector write on a crash or a race,
// and a request handler's recovered panic (broker/network logs it; it is still a bug).
var crashLine = regexp.MustCompile(`^(panic: |fatal error: |WARNING: DATA RACE)|handler panic on `)

// raceExitCode is the race detector's exit status for a run that found races (GORACE
// exitcode's default).
const raceExitCode = 66

// upstreamRace is the package whose races are not ours to fix: go-zookeeper v1.0.4 reads
// Conn.lastZxid in sendSetWatches while recvLoop writes it, on every reconnect with watches
// (a broker SIGSTOPped and resumed within its session). A report counts as upstream only if
// every access it names is in that package's own frames, the first frame of each stack.
const upstreamRace = "github.com/go-zookeeper/zk."

// scanLog returns the lines around every crash or race report in file from offset on, or "",
// and how many race reports it left out as upstream (upstreamRace).
func scanLog(file string, offset int64) (string, int) {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Sprintf("cannot scan %s: %v", file, err), 0
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fmt.Sprintf("cannot scan %s: %v", file, err), 0
	}
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	var out bytes.Buffer
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(&out, "(scan stopped: %v)\n", err)
	}
	reports, upstream := 0, 0
	for i := 0; i < len(lines); i++ {
		if !crashLine.MatchString(lines[i]) {
			continue
		}
		if strings.HasPrefix(lines[i], "WARNING: DATA RACE") && isUpstreamRace(lines[i+1:]) {
			upstream++
			continue
		}
		reports++
		if reports > 5 {
			continue
		}
		out.WriteString("----\n")
		for _, l := range lines[i:min(i+40, len(lines))] {
			out.WriteString(l + "\n")
		}
	}
	if reports > 5 {
		fmt.Fprintf(&out, "(%d reports in all)\n", reports)
	}
	return out.String(), upstream
}

// isUpstreamRace reports whether the race report in lines (after its WARNING line, up to its
// "==================" line) names only accesses made by upstreamRace's own code: the first
// frame after each "... at 0x... by goroutine N:" line.
func isUpstreamRace(lines []string) bool {
	accesses := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "==================") {
			return accesses >= 2
		}
		if strings.Contains(l, " at 0x") && strings.Contains(l, " by goroutine ") && strings.HasSuffix(l, ":") {
			accesses++
			if i+1 >= len(lines) || !strings.HasPrefix(strings.TrimSpace(lines[i+1]), upstreamRace) {
				return false
			}
		}
	}
	return false // no end of report: not judged upstream
}

// tail is the last max bytes of file from offset on.
func tail(file string, offset int64, max int) []byte {
	data, _ := os.ReadFile(file)
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	data = data[offset:]
	if len(data) > max {
		data = data[len(data)-max:]
	}
	return data
}

// ExpectExit tells the harness that broker id is about to stop by itself because of what the
// test does next (every log dir failing, say): that exit must be a clean exit 0. WaitExit
// waits for it.
func (c *Cluster) ExpectExit(id int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.broker[id].sent = expectedExit
}

// WaitExit waits until broker id's process has exited and its exit has been judged.
func (c *Cluster) WaitExit(id int32, timeout time.Duration) {
	c.t.Helper()
	c.mu.Lock()
	done := c.broker[id].done
	c.mu.Unlock()
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-time.After(timeout):
		c.t.Fatalf("broker %d still running after %v", id, timeout)
	}
}

// Kill SIGKILLs broker id and waits for the process to be gone.
func (c *Cluster) Kill(id int32) { c.signal(id, syscall.SIGKILL) }

// Stop sends SIGTERM (a clean shutdown) and waits for the process to exit.
func (c *Cluster) Stop(id int32) { c.signal(id, syscall.SIGTERM) }

func (c *Cluster) signal(id int32, sig syscall.Signal) {
	c.t.Helper()
	c.mu.Lock()
	b := c.broker[id]
	cmd, done := b.cmd, b.done
	if cmd != nil {
		select {
		case <-done: // already gone: its exit was judged without this signal
		default:
			b.sent = sig
		}
	}
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		c.t.Errorf("broker %d did not exit within 60s of %v; killing it", id, sig)
		c.mu.Lock()
		b.sent = syscall.SIGKILL
		c.mu.Unlock()
		_ = cmd.Process.Kill()
		<-done
	}
}

// PID is broker id's process id, 0 if it is not running (for tests that read its /proc entry,
// such as its resident memory).
func (c *Cluster) PID(id int32) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.broker[id]
	if b.cmd == nil || b.cmd.Process == nil {
		return 0
	}
	select {
	case <-b.done:
		return 0
	default:
		return b.cmd.Process.Pid
	}
}

// Exited reports whether broker id's process has exited.
func (c *Cluster) Exited(id int32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.broker[id]
	if b.done == nil {
		return true
	}
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

func (c *Cluster) stopAll() {
	for id := range c.broker {
		c.Stop(id)
	}
	if c.t.Failed() || os.Getenv("GREGOR_KEEP_LOGS") != "" {
		// The whole logs outlive the test's temp dir, for a post-mortem (GREGOR_KEEP_LOGS=1:
		// always, for a benchmark's).
		keep := filepath.Join(os.TempDir(), "gregor-failed-tests",
			strings.NewReplacer("/", "_", " ", "_").Replace(c.t.Name())+"-"+strconv.FormatInt(time.Now().Unix(), 10))
		if err := os.MkdirAll(keep, 0o755); err == nil {
			for id, b := range c.broker {
				if data, err := os.ReadFile(b.LogFile); err == nil {
					_ = os.WriteFile(filepath.Join(keep, fmt.Sprintf("broker-%d.log", id)), data, 0o644)
				}
			}
			c.t.Logf("broker logs kept in %s", keep)
		}
	}
	if c.t.Failed() {
		for id, b := range c.broker {
			data, _ := os.ReadFile(b.LogFile)
			if len(data) > 8000 {
				data = data[len(data)-8000:]
			}
			c.t.Logf("---- tail of broker %d log ----\n%s", id, data)
		}
	}
}

// ZKConn opens a plain ZooKeeper connection (no chroot) for assertions on raw znodes.
func (c *Cluster) ZKConn() *zk.Conn {
	c.t.Helper()
	conn, ev, err := zk.Connect([]string{c.ZK.Addr()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		c.t.Fatalf("zk connect: %v", err)
	}
	deadline := time.After(60 * time.Second)
	for connected := false; !connected; {
		select {
		case e := <-ev:
			connected = e.State == zk.StateHasSession
		case <-deadline:
			c.t.Fatalf("zk session not established")
		}
	}
	c.t.Cleanup(conn.Close)
	return conn
}

// harnessZK is the cluster's own ZooKeeper session (caller may hold c.mu).
func (c *Cluster) harnessZK() *zk.Conn {
	if c.zkc == nil {
		c.zkc = c.ZKConn()
	}
	return c.zkc
}

// WaitRegistered waits until /kafka/brokers/ids/<id> is registered by the broker's current
// run — not a killed run's registration still waiting for its session to time out — watching
// the znode rather than polling; it fails fast if the broker process exits first.
func (c *Cluster) WaitRegistered(id int32, timeout time.Duration) {
	c.t.Helper()
	c.mu.Lock()
	conn := c.harnessZK()
	c.mu.Unlock()
	path := fmt.Sprintf("%s/brokers/ids/%d", Chroot, id)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c.mu.Lock()
	done, stale := c.broker[id].done, c.broker[id].staleOwner
	c.mu.Unlock()
	for {
		ok, st, ev, err := conn.ExistsW(path)
		if err != nil {
			c.t.Fatalf("exists %s: %v", path, err)
		}
		if ok && st.EphemeralOwner != stale {
			return
		}
		select {
		case <-ev:
		case <-done:
			data, _ := os.ReadFile(c.broker[id].LogFile)
			c.t.Fatalf("broker %d exited before registering; log:\n%s", id, data)
		case <-ctx.Done():
			data, _ := os.ReadFile(c.broker[id].LogFile)
			c.t.Fatalf("broker %d not registered within %v; log:\n%s", id, timeout, data)
		}
	}
}

// WaitDeregistered waits until broker id's ephemeral znode is gone. Call it before restarting a
// killed broker, not after: a new run registers as soon as the dead session's znode is deleted,
// and a watch that fires then may find the znode already back, so the gap is never seen.
func (c *Cluster) WaitDeregistered(id int32, timeout time.Duration) {
	c.t.Helper()
	c.mu.Lock()
	conn := c.harnessZK()
	c.mu.Unlock()
	path := fmt.Sprintf("%s/brokers/ids/%d", Chroot, id)
	deadline := time.After(timeout)
	for {
		ok, _, ev, err := conn.ExistsW(path)
		if err != nil {
			c.t.Fatalf("exists %s: %v", path, err)
		}
		if !ok {
			return
		}
		select {
		case <-ev:
		case <-deadline:
			c.t.Fatalf("broker %d still registered after %v", id, timeout)
		}
	}
}

// FreePort returns a loopback port for a listener (testport.Free).
func FreePort(t testing.TB) int { t.Helper(); return testport.Free(t, "127.0.0.1") }

// Pause freezes broker id (SIGSTOP), as a long GC pause or a stalled VM would: its ZooKeeper
// session expires for real once the pause outlasts the session timeout.
func (c *Cluster) Pause(id int32) { c.signalNoWait(id, syscall.SIGSTOP) }

// Resume lets a paused broker run again (SIGCONT).
func (c *Cluster) Resume(id int32) { c.signalNoWait(id, syscall.SIGCONT) }

func (c *Cluster) signalNoWait(id int32, sig syscall.Signal) {
	c.mu.Lock()
	cmd := c.broker[id].cmd
	c.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// Isolate cuts broker id off the network (its link to the bridge goes down): it keeps running
// but reaches neither ZooKeeper nor the other brokers, and no client reaches it. Needs
// Options.Netns.
func (c *Cluster) Isolate(id int32) {
	c.t.Helper()
	if c.lab == nil {
		c.t.Fatalf("testcluster: Isolate needs Options.Netns")
	}
	c.lab.setLink(id, false)
}

// Heal reconnects a broker cut off by Isolate.
func (c *Cluster) Heal(id int32) {
	c.t.Helper()
	if c.lab == nil {
		c.t.Fatalf("testcluster: Heal needs Options.Netns")
	}
	c.lab.setLink(id, true)
}

func (c *Cluster) binary(t testing.TB) string {
	if c.opts.NoRace {
		return PlainBinary(t)
	}
	return Binary(t)
}
