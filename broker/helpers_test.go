package broker

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-broker/gregor/config"
	"github.com/gregor-broker/gregor/internal/zktest"
)

// syncBuffer collects a broker's log lines; the test prints its tail on failure.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// testConfig is a single-broker config on 127.0.0.1 port 0 with its own log dir.
func testConfig(t testing.TB, zks *zktest.Server, id int32, chroot string) *config.Broker {
	t.Helper()
	cfg := config.Default()
	cfg.BrokerID = id
	cfg.Listeners = []config.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 0}}
	cfg.AdvertisedListeners = []config.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 0}}
	cfg.InterBrokerListenerName = "PLAINTEXT"
	cfg.LogDirs = []string{t.TempDir()}
	cfg.ZookeeperConnect = zks.Connect(chroot)
	cfg.ZookeeperSessionTimeoutMs = 6000
	cfg.ZookeeperConnectionTimeoutMs = 15000
	cfg.OffsetsTopicReplicationFactor = 1
	cfg.OffsetsTopicNumPartitions = 3
	cfg.AutoCreateTopicsEnable = true
	cfg.DeleteTopicEnable = true
	return cfg
}

// startBroker starts a broker in-process and shuts it down at test end. Its log is printed if
// the test failed.
func startBroker(t testing.TB, cfg *config.Broker) *Broker {
	t.Helper()
	out := &syncBuffer{}
	logger := logrus.New()
	logger.SetOutput(out)
	logger.SetLevel(logrus.DebugLevel)
	b, err := New(cfg, logger)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatalf("Start: %v\n%s", err, out.tail(6000))
	}
	t.Cleanup(func() {
		if err := b.Shutdown(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("---- tail of broker %d log ----\n%s", cfg.BrokerID, out.tail(12000))
		}
	})
	return b
}

func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// zkConn is a raw ZooKeeper connection (no chroot) for assertions on znodes.
func zkConn(t *testing.T, zks *zktest.Server) *zk.Conn {
	t.Helper()
	conn, ev, err := zk.Connect([]string{zks.Addr()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatalf("zk connect: %v", err)
	}
	t.Cleanup(conn.Close)
	deadline := time.After(60 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				return conn
			}
		case <-deadline:
			t.Fatal("zk session not established")
		}
	}
}

// zkExists reports whether path exists, failing the test if ZooKeeper cannot say: an absence
// check must not pass because the check itself failed.
func zkExists(t *testing.T, conn *zk.Conn, path string) bool {
	t.Helper()
	ok, _, err := conn.Exists(path)
	if err != nil {
		t.Fatalf("exists %s: %v", path, err)
	}
	return ok
}

func zkGet(t *testing.T, conn *zk.Conn, chroot string, p string) string {
	t.Helper()
	data, _, err := conn.Get(path.Join(chroot, p))
	if err != nil {
		t.Fatalf("get %s%s: %v", chroot, p, err)
	}
	return string(data)
}

func mustContain(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

// records produced for partition p, index i.
func recordValue(p int32, i int) string { return fmt.Sprintf("p%d-value-%04d", p, i) }

func adminOf(cl *kgo.Client) *kadm.Client { return kadm.NewClient(cl) }

// waitZNodeGone waits, on an exists watch (no polling), until path is deleted.
func waitZNodeGone(t *testing.T, conn *zk.Conn, p string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		ok, _, ev, err := conn.ExistsW(p)
		if err != nil {
			t.Fatalf("exists %s: %v", p, err)
		}
		if !ok {
			return
		}
		select {
		case <-ev:
		case <-deadline:
			t.Fatalf("%s still present after %v", p, timeout)
		}
	}
}

// freshMetadata asks the broker through a new client: kadm.Metadata may answer from a client's
// metadata cache, which would hide what the broker says now.
func freshMetadata(t *testing.T, ctx context.Context, addr string, topics ...string) kadm.Metadata {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).Metadata(ctx, topics...)
	if err != nil {
		t.Fatalf("metadata %v: %v", topics, err)
	}
	return md
}
