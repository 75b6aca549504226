// Package testcluster runs real Gregor brokers as separate processes for end-to-end tests: it
// builds the gregor binary from the working tree once per test binary (with -race when the
// test binary has it), starts a real ZooKeeper through internal/zktest, writes one YAML config
// per broker, and starts, stops (SIGTERM) and kills (SIGKILL) broker processes. Brokers listen
// on 127.0.0.1 with ports picked at start, and serve Prometheus metrics on a port of their own.
//
// A broker that misbehaves fails the test, at any point including the shutdown in t.Cleanup:
// exiting by itself (any status), not exiting 0 on the test's SIGTERM, or logging a runtime
// panic, a fatal error, a data race report or a recovered handler panic. Only the test's own
// SIGKILL (Kill) is an expected crash.
//
// It owns the broker processes it starts and stops every one of them in t.Cleanup; one waiter
// goroutine per process run judges the exit and closes the run's done channel, and every
// caller that stops a broker waits on it, so no verdict lands after the test has finished.
// Cluster.mu guards the brokers' process fields (a leaf). It must not reach into broker
// internals: tests talk to the brokers only through the Kafka protocol, ZooKeeper and the
// metrics endpoint, as a user would.
package testcluster
