//go:build race

package testcluster

// RaceEnabled is true when this test binary was built with -race; the brokers it starts are
// then built with -race too.
const RaceEnabled = true
