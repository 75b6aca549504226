// Package zktest runs a real ZooKeeper server — Debian's `zookeeper` package — on a free
// loopback port for tests, with its own data directory, and stops it when the test ends. Tests
// never fake ZooKeeper: a missing java or zookeeper jar fails the test with how to install it.
//
// It owns the server processes it starts; nothing else in the project may start or stop them.
package zktest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gregor-broker/gregor/internal/testport"
)

// Jar and ConfDir are where Debian's zookeeper package installs the server.
const (
	Jar     = "/usr/share/java/zookeeper.jar"
	ConfDir = "/etc/zookeeper/conf"
	// slf4jSimpleJar is Debian's libslf4j-java binding that prints to stderr (zookeeper pulls
	// the package in); without it the server is silent.
	slf4jSimpleJar = "/usr/share/java/slf4j-simple.jar"
)

// Server is one ZooKeeper process.
type Server struct {
	dir  string
	host string // the address it listens on (127.0.0.1 unless StartAt chose another)
	port int
	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd
	done chan struct{}
}

// Start launches ZooKeeper for a test on loopback; t.Cleanup stops it.
func Start(t testing.TB) *Server { return StartAt(t, "127.0.0.1") }

// StartAt launches ZooKeeper listening on host (an address of this machine, such as the
// bridge of brokers in network namespaces); t.Cleanup stops it.
func StartAt(t testing.TB, host string) *Server {
	t.Helper()
	dir := t.TempDir()
	port := testport.Free(t, host) // below the ephemeral range: no client can take it meanwhile
	s, err := startProcess(dir, host, port)
	if err != nil {
		t.Fatalf("zktest: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			out, _ := os.ReadFile(filepath.Join(dir, "zookeeper.out"))
			if len(out) > 6000 {
				out = out[len(out)-6000:]
			}
			t.Logf("---- tail of ZooKeeper's log (%s) ----\n%s", s.Addr(), out)
		}
	})
	return s
}

// StartProcess starts ZooKeeper with data under dir on 127.0.0.1:port and waits until it
// answers. The caller must Stop it.
func StartProcess(dir string, port int) (*Server, error) { return startProcess(dir, "127.0.0.1", port) }

func startProcess(dir, host string, port int) (*Server, error) {
	if _, err := exec.LookPath("java"); err != nil {
		return nil, fmt.Errorf("java not found: install ZooKeeper with `apt-get install -y zookeeper` (scripts/test.sh does this)")
	}
	if _, err := os.Stat(Jar); err != nil {
		return nil, fmt.Errorf("%s not found: install ZooKeeper with `apt-get install -y zookeeper` (scripts/test.sh does this)", Jar)
	}
	s := &Server{dir: dir, host: host, port: port}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf("tickTime=200\ndataDir=%s\nclientPort=%d\nclientPortAddress="+host+"\n"+
		"admin.enableServer=false\nminSessionTimeout=400\nmaxSessionTimeout=60000\n"+
		// No fsync of the transaction log: a test's ZooKeeper never outlives a machine crash,
		// and an fsync stalled behind the brokers' disk traffic would stall every session.
		"forceSync=no\n"+
		"4lw.commands.whitelist=ruok,srvr,stat\nmaxClientCnxns=0\n", filepath.Join(dir, "data"), port)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "zookeeper.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	classpath := ConfDir + ":" + Jar
	if _, err := os.Stat(slf4jSimpleJar); err == nil {
		// Debian's classpath has no slf4j binding, so the server logs nothing; this one logs
		// INFO to stderr, which is zookeeper.out, shown when a test fails.
		classpath += ":" + slf4jSimpleJar
	}
	cmd := exec.Command("java", "-Xmx256m", "-Dzookeeper.log.dir="+s.dir, "-cp", classpath,
		"-Dorg.slf4j.simpleLogger.showDateTime=true", "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
		"org.apache.zookeeper.server.ZooKeeperServerMain", filepath.Join(s.dir, "zoo.cfg"))
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server must not outlive the test process, even if the test binary is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start zookeeper: %w", err)
	}
	done := make(chan struct{})
	go func() { // owned by the process: ends when it exits
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			out, _ := os.ReadFile(filepath.Join(s.dir, "zookeeper.out"))
			return fmt.Errorf("zookeeper exited during startup:\n%s", out)
		default:
		}
		if s.serving() {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // polling the server's own status command until it serves
	}
	s.Stop()
	return fmt.Errorf("zookeeper on %s was not serving within 60s", s.Addr())
}

// serving asks ZooKeeper's four-letter "srvr" whether the server is serving sessions. "ruok"
// is not enough: ZooKeeper answers it as soon as its port is open, before the database is
// loaded, and until then it closes every client connection. That window is the likely cause of
// a CI broker getting no session within its connection timeout on a loaded machine (the server
// logged nothing then, so it is not proven).
func (s *Server) serving() bool {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return false
	}
	out, _ := io.ReadAll(io.LimitReader(c, 4096))
	return bytes.Contains(out, []byte("\nMode: "))
}

// Addr is "host:port" (host 127.0.0.1 unless StartAt chose another).
// PID is the server's process id, 0 if it is not running (benchmarks read its CPU time from
// /proc).
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Server) Addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// Connect is the connect string with a chroot ("" means none).
func (s *Server) Connect(chroot string) string { return s.Addr() + chroot }

// Stop terminates the server and waits for it; its data stays for Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// Restart starts the server again on the same port and data directory.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		t.Fatalf("zktest: restart: %v", err)
	}
}
