// Package testcluster runs real Gregor brokers as separate processes for end-to-end tests: it
// builds the gregor binary from the working tree once per test binary, starts a real ZooKeeper
// through internal/zktest, writes one YAML config per broker, and starts, stops (SIGTERM) and
// kills (SIGKILL) broker processes. Brokers listen on 127.0.0.1 with ports picked at start.
//
// It owns the broker processes it starts and stops every one of them in t.Cleanup. It must not
// reach into broker internals: tests talk to the brokers only through the Kafka protocol and
// ZooKeeper, as a user would.
package testcluster
