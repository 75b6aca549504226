package testcluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gregor-broker/gregor/internal/zktest"
)

// Chroot is the ZooKeeper chroot every test cluster uses, as the example configs do.
const Chroot = "/kafka"

// Options shape a cluster; the zero value is a single broker with Kafka's defaults.
type Options struct {
	Brokers int               // number of brokers, ids 1..N (default 1)
	Config  map[string]string // extra broker config keys written to every broker's YAML
}

// Cluster is a ZooKeeper server plus broker processes.
type Cluster struct {
	t      testing.TB
	ZK     *zktest.Server
	dir    string
	opts   Options
	mu     sync.Mutex // guards brokers' process fields
	broker map[int32]*Broker
}

// Broker is one broker process. Port is fixed for the life of the cluster so a restarted broker
// comes back on the same address, as a real one would.
type Broker struct {
	ID      int32
	Port    int
	Config  string // path of its YAML file
	LogFile string
	DataDir string
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds ./cmd/gregor once per test binary and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gregor-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "gregor")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/gregor")
		cmd.Dir = repoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/gregor: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("%v", buildErr)
	}
	return binPath
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
	Binary(t) // build before starting anything, so a compile error fails fast
	c := &Cluster{t: t, ZK: zktest.Start(t), dir: t.TempDir(), opts: opts, broker: map[int32]*Broker{}}
	for i := 1; i <= opts.Brokers; i++ {
		id := int32(i)
		b := &Broker{ID: id, Port: FreePort(t)}
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
	fmt.Fprintf(&buf, "broker.id: %d\n", b.ID)
	fmt.Fprintf(&buf, "listeners: PLAINTEXT://127.0.0.1:%d\n", b.Port)
	fmt.Fprintf(&buf, "advertised.listeners: PLAINTEXT://127.0.0.1:%d\n", b.Port)
	fmt.Fprintf(&buf, "log.dirs: %s\n", b.DataDir)
	fmt.Fprintf(&buf, "zookeeper.connect: %s\n", c.ZK.Connect(Chroot))
	fmt.Fprintf(&buf, "zookeeper.session.timeout.ms: 6000\n")
	fmt.Fprintf(&buf, "offsets.topic.replication.factor: 1\n")
	for k, v := range c.opts.Config {
		fmt.Fprintf(&buf, "%s: %q\n", k, v)
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
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.broker[id].Port))
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
	cmd := exec.Command(Binary(c.t), "broker", "--config", b.Config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		c.t.Fatalf("start broker %d: %v", id, err)
	}
	done := make(chan struct{})
	go func() { // owned by the process: ends when it exits
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	b.cmd, b.done = cmd, done
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
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		c.t.Errorf("broker %d did not exit within 60s of %v; killed", id, sig)
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
	deadline := time.After(15 * time.Second)
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

// WaitRegistered waits until /kafka/brokers/ids/<id> exists, watching the znode rather than
// polling; it fails fast if the broker process exits first.
func (c *Cluster) WaitRegistered(id int32, timeout time.Duration) {
	c.t.Helper()
	conn := c.ZKConn()
	path := fmt.Sprintf("%s/brokers/ids/%d", Chroot, id)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c.mu.Lock()
	done := c.broker[id].done
	c.mu.Unlock()
	for {
		ok, _, ev, err := conn.ExistsW(path)
		if err != nil {
			c.t.Fatalf("exists %s: %v", path, err)
		}
		if ok {
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

// WaitDeregistered waits until broker id's ephemeral znode is gone.
func (c *Cluster) WaitDeregistered(id int32, timeout time.Duration) {
	c.t.Helper()
	conn := c.ZKConn()
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

// FreePort asks the kernel for a free loopback port.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

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
