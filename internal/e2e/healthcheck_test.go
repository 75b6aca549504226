package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gregor-broker/gregor/internal/testcluster"
)

// runGregor runs the gregor binary with args and extra environment, within 30 s.
func runGregor(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testcluster.Binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestHealthcheck: the container image's health check passes on a serving broker — found by
// its own config file, as the image runs it — and fails, with a reason, for a broker id that
// is not live and once the broker has stopped.
func TestHealthcheck(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Brokers: 2})
	b := c.Broker(1)
	out, err := runGregor(t, nil, "healthcheck", "--config", b.Config)
	if err != nil || !strings.Contains(out, "healthy: 2 live broker(s)") {
		t.Fatalf("healthcheck --config of a serving broker: %v\n%s", err, out)
	}
	out, err = runGregor(t, nil, "healthcheck", "--bootstrap-server", c.Addr(2), "--broker-id", "2")
	if err != nil {
		t.Fatalf("healthcheck --bootstrap-server: %v\n%s", err, out)
	}
	out, err = runGregor(t, nil, "healthcheck", "--bootstrap-server", c.Addr(1), "--broker-id", "7")
	if err == nil || !strings.Contains(out, "broker 7 is not among the live brokers") {
		t.Fatalf("healthcheck of an id that is not live passed: %v\n%s", err, out)
	}
	c.Stop(1)
	out, err = runGregor(t, nil, "healthcheck", "--config", b.Config, "--timeout", "3s")
	if err == nil || !strings.Contains(out, "ApiVersions") {
		t.Fatalf("healthcheck of a stopped broker passed: %v\n%s", err, out)
	}
}

// TestBrokerRefusesABadVariable: a KAFKA_* variable that names no key, or sets a bad value, stops
// the broker at startup with an error naming the variable (before anything is opened).
func TestBrokerRefusesABadVariable(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "broker.yaml")
	if err := os.WriteFile(cfg, []byte("log.dirs: "+t.TempDir()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"KAFKA_ZOOKEEPER_CONNECT=127.0.0.1:1/kafka"}
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"KAFKA_BROKER_ID=one"}, `environment: KAFKA_BROKER_ID (broker.id): "one": is not an integer`},
		{[]string{"KAFKA_BROKER_ID=1", "KAFKA_ADVERTISED_LISTNERS=PLAINTEXT://h:9092"}, "KAFKA_ADVERTISED_LISTNERS"},
		{[]string{"KAFKA_BROKER_ID=1", "KAFKA_INTER_BROKER_LISTENER_NAME=INTERNAL"}, "KAFKA_INTER_BROKER_LISTENER_NAME (inter.broker.listener.name)"},
	} {
		out, err := runGregor(t, append(base, tc.env...), "broker", "--config", cfg)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%v: want a startup error with %q, got %v\n%s", tc.env, tc.want, err, out)
		}
	}
}
