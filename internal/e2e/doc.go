// Package e2e holds end-to-end tests: real ZooKeeper, real broker processes (internal/testcluster),
// real clients (kafka-go, franz-go, kcat). It has no non-test code but this file and helpers.go.
package e2e
